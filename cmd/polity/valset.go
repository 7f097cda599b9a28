package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/polityledger/polity/chain/valset"
	"github.com/polityledger/polity/openapi"
)

// runValsetPropose proposes adding or removing a validator; the sender's
// key must be a current validator's (its node key).
func runValsetPropose(args []string, stdout io.Writer) error {
	fs := newFlags("valset propose")
	f := valsetFlags(fs)
	op := fs.String("op", "", "add or remove (required)")
	id := fs.String("id", "", "the validator's ID, its node ID (required)")
	pub := fs.String("pub-key", "", "add: the validator's public node key (hex)")
	addr := fs.String("addr", "", "add: the validator's P2P address, host:port")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *op == "" || *id == "" {
		return usageError{errors.New("-op and -id are required")}
	}
	out, err := f.send("propose", valset.ProposeArgs{Op: *op, ID: *id, PubKey: *pub, Addr: *addr})
	if err != nil {
		return err
	}
	return printValsetResult(stdout, out)
}

// runValsetVote votes for a proposal.
func runValsetVote(args []string, stdout io.Writer) error {
	fs := newFlags("valset vote")
	f := valsetFlags(fs)
	prop := fs.String("proposal", "", "proposal ID (hex, printed by valset propose) (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *prop == "" {
		return usageError{errors.New("-proposal is required")}
	}
	out, err := f.send("vote", valset.VoteArgs{Proposal: *prop})
	if err != nil {
		return err
	}
	return printValsetResult(stdout, out)
}

// runValsetShow prints the chain's current validator set.
func runValsetShow(args []string, stdout io.Writer) error {
	fs := newFlags("valset show")
	u := fs.String("url", defaultURL, "node API URL")
	chainID := fs.String("chain", "", "chain ID (required)")
	asJSON := fs.Bool("json", false, "print the API response as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *chainID == "" {
		return usageError{errors.New("-chain is required")}
	}
	var out openapi.ValidatorSet
	if _, err := newClient(*u).do(context.Background(), "GET", "/v1/chains/"+url.PathEscape(*chainID)+"/validators", nil, &out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "set %s from height %d, quorum %d of %d (this node: %s)\n", out.Hash, out.FromHeight, out.Quorum, len(out.Validators), out.ThisNode)
	for _, v := range out.Validators {
		addr := ""
		if v.Addr != nil {
			addr = *v.Addr
		}
		fmt.Fprintf(stdout, "  %3d  %-12s %s  %s\n", v.Index, v.Id, v.PubKey, addr)
	}
	return nil
}

type valsetCmd struct {
	url, chain, key *string
	wait            *time.Duration
	auth            authFlags
}

func valsetFlags(fs *flag.FlagSet) valsetCmd {
	return valsetCmd{
		url:   fs.String("url", defaultURL, "a validator's API URL (followers do not order transactions)"),
		chain: fs.String("chain", "", "chain ID (required)"),
		key:   fs.String("key", "keys/validator.json", "a current validator's key file (its node key)"),
		wait:  fs.Duration("wait", 30*time.Second, "how long to wait for the commit"),
		auth:  addAuthFlags(fs, ""), // default: -key
	}
}

// send signs valset.method(args) with the validator key and waits for its
// receipt; a committed but failed call is an error with the reason.
func (f valsetCmd) send(method string, args any) (*openapi.Transaction, error) {
	if *f.chain == "" {
		return nil, usageError{errors.New("-chain is required")}
	}
	if *f.wait <= 0 || *f.wait > 60*time.Second {
		return nil, usageError{errors.New("-wait must be within 1s..60s")}
	}
	k, err := loadKey(*f.key)
	if err != nil {
		return nil, err
	}
	c := newClient(*f.url)
	if c.auth, err = f.auth.load(*f.key); err != nil {
		return nil, err
	}
	ctx := context.Background()
	tx, err := signNext(ctx, c, k, *f.chain, valset.Name, method, args)
	if err != nil {
		return nil, err
	}
	var out openapi.Transaction
	path := fmt.Sprintf("/v1/chains/%s/transactions?wait=%d", url.PathEscape(*f.chain), int(f.wait.Seconds()))
	if _, err := c.do(ctx, "POST", path, openapi.SubmitRequest{Tx: tx.Encode()}, &out); err != nil {
		return nil, err
	}
	if out.Receipt == nil {
		return nil, fmt.Errorf("transaction %s is %s after %v", out.Id, out.Status, *f.wait)
	}
	if out.Receipt.Status != openapi.ReceiptStatusOk {
		reason := "failed"
		if out.Receipt.Error != nil {
			reason = *out.Receipt.Error
		}
		return nil, fmt.Errorf("valset.%s committed at height %d but failed: %s", method, *out.Height, reason)
	}
	return &out, nil
}

// printValsetResult prints the proposal ID, and the change when the call
// completed a quorum.
func printValsetResult(w io.Writer, t *openapi.Transaction) error {
	fmt.Fprintf(w, "transaction %s committed at height %d\n", t.Id, *t.Height)
	for _, e := range t.Receipt.Events {
		switch e.Type {
		case "valset.proposed":
			fmt.Fprintf(w, "proposal %s (%s %s)\n", e.Attributes["proposal"], e.Attributes["op"], e.Attributes["id"])
		case "valset.changed":
			fmt.Fprintf(w, "validator set changed: %s %s; set %s certifies from height %s\n",
				e.Attributes["op"], e.Attributes["id"], e.Attributes["validators_hash"], e.Attributes["from_height"])
		}
	}
	return nil
}
