package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/proof"
	"github.com/polityledger/polity/openapi"
)

// maxProofFile bounds a proof file read from disk.
const maxProofFile = 1 << 20

func runProofVerify(args []string, stdout io.Writer) error {
	fs := newFlags("proof verify")
	trust := fs.String("trust", "", "hash of the validator set to trust (hex); default: any set whose quorum signed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("usage: polity proof verify [-trust HASH] FILE")}
	}
	var opts proof.Options
	if *trust != "" {
		h, err := crypto.ParseHash(*trust)
		if err != nil {
			return usageError{err}
		}
		opts.TrustedValidators = h
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProofFile+1))
	if err != nil {
		return err
	}
	if len(data) > maxProofFile {
		return fmt.Errorf("%s: over %d bytes", fs.Arg(0), maxProofFile)
	}
	b, err := proof.Decode(data)
	if err != nil {
		return err
	}
	res, err := proof.Verify(b, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "OK: proof verifies\nchain:           %s\nheight:          %d\nheader:          %s\nvalidator set:   %s\n", res.ChainID, res.Height, res.HeaderHash, res.ValidatorsHash)
	switch b.Kind {
	case proof.KindTx:
		fmt.Fprintf(stdout, "transaction:     %s\nreceipt status:  %s\n", res.TxID, res.Status)
	case proof.KindState:
		fmt.Fprintf(stdout, "state key:       %q\npresent:         %v\n", b.Key, res.Present)
	}
	if opts.TrustedValidators.IsZero() {
		fmt.Fprintln(stdout, "note: no -trust anchor given; the header is certified by the validator set in the bundle")
	}
	return nil
}

func runStateGet(args []string, stdout io.Writer) error {
	fs := newFlags("state get")
	u := fs.String("url", defaultURL, "node API URL")
	chainID := fs.String("chain", "", "chain ID (required)")
	mod := fs.String("module", "", "module (required)")
	key := fs.String("key", "", "module-local key (required)")
	proofOut := fs.String("proof", "", "write the proof bundle to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *chainID == "" || *mod == "" || *key == "" {
		return usageError{errors.New("-chain, -module and -key are required")}
	}
	q := url.Values{"module": {*mod}, "key": {*key}}
	var out openapi.StateEntry
	if _, err := newClient(*u).do(context.Background(), "GET", "/v1/chains/"+*chainID+"/state?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	if *proofOut != "" {
		if err := os.WriteFile(*proofOut, out.Proof, 0o644); err != nil {
			return err
		}
	}
	return printJSON(stdout, out)
}
