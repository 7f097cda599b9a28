package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/openapi"
)

const defaultURL = "http://127.0.0.1:8080"

func runTxSend(args []string, stdout io.Writer) error {
	fs := newFlags("tx send")
	url := fs.String("url", defaultURL, "node API URL")
	chainID := fs.String("chain", "", "target chain ID (required)")
	keyPath := fs.String("key", "polity-key.json", "sender's key file")
	mod := fs.String("module", "", "module (required)")
	method := fs.String("method", "", "method (required)")
	argsJSON := fs.String("args", "{}", "method arguments (JSON)")
	nonce := fs.Int64("nonce", -1, "nonce (default: the account's next nonce from the node)")
	expiry := fs.Uint64("expiry", 0, "last block height the transaction may be included at (0: none)")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the commit (0: return once accepted)")
	proofOut := fs.String("proof", "", "write the proof bundle of the committed transaction to this file")
	af := addAuthFlags(fs, "") // default: -key
	if err := parse(fs, args); err != nil {
		return err
	}
	if *chainID == "" || *mod == "" || *method == "" {
		return usageError{errors.New("-chain, -module and -method are required")}
	}
	if !json.Valid([]byte(*argsJSON)) {
		return usageError{errors.New("-args must be valid JSON")}
	}
	if *wait > 60*time.Second {
		return usageError{errors.New("-wait is at most 60s")}
	}
	s, key, err := keyfile.Load(*keyPath)
	if err != nil {
		return err
	}
	c := newClient(*url)
	if c.auth, err = af.load(*keyPath); err != nil {
		return err
	}
	ctx := context.Background()
	tx := &chain.Tx{ChainID: *chainID, Module: *mod, Method: *method, Args: []byte(*argsJSON), Expiry: *expiry}
	if *nonce >= 0 {
		tx.Nonce = uint64(*nonce)
	} else {
		var acct openapi.Account
		addr := chain.AddressOf(s, key.Public().Bytes())
		if _, err := c.do(ctx, "GET", "/v1/chains/"+*chainID+"/accounts/"+addr.String(), nil, &acct); err != nil {
			return fmt.Errorf("fetch nonce: %w", err)
		}
		tx.Nonce = acct.NextNonce
	}
	if err := tx.Sign(s, key); err != nil {
		return err
	}
	path := fmt.Sprintf("/v1/chains/%s/transactions?wait=%d", *chainID, int(wait.Seconds()))
	var out openapi.Transaction
	if _, err := c.do(ctx, "POST", path, openapi.SubmitRequest{Tx: tx.Encode()}, &out); err != nil {
		return err
	}
	if err := writeProof(*proofOut, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func writeProof(path string, t *openapi.Transaction) error {
	if path == "" {
		return nil
	}
	if t.Proof == nil {
		return fmt.Errorf("transaction %s is %s: no proof yet", t.Id, t.Status)
	}
	return os.WriteFile(path, *t.Proof, 0o644)
}

func runTxGet(args []string, stdout io.Writer) error {
	fs := newFlags("tx get")
	url := fs.String("url", defaultURL, "node API URL")
	chainID := fs.String("chain", "", "chain ID (required)")
	id := fs.String("id", "", "transaction ID (required)")
	proofOut := fs.String("proof", "", "write the proof bundle to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *chainID == "" || *id == "" {
		return usageError{errors.New("-chain and -id are required")}
	}
	var out openapi.Transaction
	if _, err := newClient(*url).do(context.Background(), "GET", "/v1/chains/"+*chainID+"/transactions/"+*id, nil, &out); err != nil {
		return err
	}
	if err := writeProof(*proofOut, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func runChainList(args []string, stdout io.Writer) error {
	fs := newFlags("chain list")
	url := fs.String("url", defaultURL, "node API URL")
	if err := parse(fs, args); err != nil {
		return err
	}
	var out openapi.ChainList
	if _, err := newClient(*url).do(context.Background(), "GET", "/v1/chains", nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-16s %-11s %-9s %-15s %8s  %s\n", "CHAIN", "KIND", "CONSENSUS", "SUITE", "HEIGHT", "HEAD")
	for _, c := range out.Chains {
		fmt.Fprintf(stdout, "%-16s %-11s %-9s %-15s %8d  %s\n", c.Id, c.Kind, c.Consensus, c.Suite, c.Height, c.HeadHash)
	}
	return nil
}
