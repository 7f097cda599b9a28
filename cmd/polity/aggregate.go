package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/openapi"
)

// maxInputFile bounds an input vector file (8192 values of up to 20 digits).
const maxInputFile = 256 << 10

func runAggregatePropose(args []string, stdout io.Writer) error {
	fs := newFlags("aggregate propose")
	u := fs.String("url", defaultURL, "node API URL")
	keyPath := fs.String("key", "polity-key.json", "proposer's key file (signs the governance transaction)")
	id := fs.String("id", "", "query ID (required; printable ASCII, no spaces or '/')")
	desc := fs.String("description", "", "what the query counts")
	parts := fs.String("participants", "", "comma-separated participant nodes: node IDs or addresses (required)")
	threshold := fs.Int("threshold", 0, "departments needed to decrypt (required; 2..participants)")
	vlen := fs.Int("vector-len", 0, "length of every department's vector (required; 1..8192)")
	aggr := fs.String("aggregator", "", "aggregator node ID or address (default: the node at -url)")
	blocks := fs.Uint64("deadline-blocks", 100000, "deadline in governance blocks after the current height")
	timeout := fs.Duration("timeout", 10*time.Minute, "deadline in time from now, on the block clock (0: height only)")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the commit (at most 60s)")
	af := addAuthFlags(fs, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *parts == "" || *threshold == 0 || *vlen == 0 {
		return usageError{errors.New("-id, -participants, -threshold and -vector-len are required")}
	}
	if *wait > 60*time.Second || *wait < 0 || *timeout < 0 || *blocks == 0 {
		return usageError{errors.New("-wait must be 0..60s, -timeout not negative, -deadline-blocks positive")}
	}
	s, key, err := keyfile.Load(*keyPath)
	if err != nil {
		return err
	}
	c := newClient(*u)
	if c.auth, err = af.load(*keyPath); err != nil {
		return err
	}
	ctx := context.Background()
	var nodes openapi.AggregateNodeList
	if _, err := c.do(ctx, "GET", "/v1/aggregate/nodes", nil, &nodes); err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	resolve := func(name string) (string, error) {
		for _, n := range nodes.Nodes {
			if n.Id == name || n.Address == name {
				return n.Address, nil
			}
		}
		return "", usageError{fmt.Errorf("%q is neither a node ID nor a node address of this federation", name)}
	}
	a := aggregate.ProposeArgs{ID: *id, Description: *desc, Threshold: *threshold, VectorLen: *vlen}
	for _, p := range strings.Split(*parts, ",") {
		addr, err := resolve(strings.TrimSpace(p))
		if err != nil {
			return err
		}
		a.Participants = append(a.Participants, addr)
	}
	if *aggr == "" {
		*aggr = nodes.Self
	}
	if a.Aggregator, err = resolve(*aggr); err != nil {
		return err
	}
	var gov openapi.ChainDetail
	if _, err := c.do(ctx, "GET", "/v1/chains/"+nodes.GovernanceChain, nil, &gov); err != nil {
		return fmt.Errorf("governance chain: %w", err)
	}
	a.Deadline = gov.Height + *blocks
	if *timeout > 0 {
		a.DeadlineTime = uint64(time.Now().Add(*timeout).UnixMilli())
	}
	argsJSON, err := json.Marshal(a)
	if err != nil {
		return err
	}
	var acct openapi.Account
	addr := chain.AddressOf(s, key.Public().Bytes())
	if _, err := c.do(ctx, "GET", "/v1/chains/"+nodes.GovernanceChain+"/accounts/"+addr.String(), nil, &acct); err != nil {
		return fmt.Errorf("fetch nonce: %w", err)
	}
	tx := &chain.Tx{ChainID: nodes.GovernanceChain, Nonce: acct.NextNonce, Module: aggregate.Name, Method: "propose", Args: argsJSON}
	if err := tx.Sign(s, key); err != nil {
		return err
	}
	var out openapi.Transaction
	if _, err := c.do(ctx, "POST", fmt.Sprintf("/v1/aggregate/queries?wait=%d", int(wait.Seconds())), openapi.SubmitRequest{Tx: tx.Encode()}, &out); err != nil {
		return err
	}
	if err := printJSON(stdout, out); err != nil {
		return err
	}
	if out.Receipt != nil && out.Receipt.Status != openapi.ReceiptStatusOk {
		msg := ""
		if out.Receipt.Error != nil {
			msg = *out.Receipt.Error
		}
		return fmt.Errorf("propose failed on chain: %s", msg)
	}
	return nil
}

func runAggregateInput(args []string, stdout io.Writer) error {
	fs := newFlags("aggregate input")
	u := fs.String("url", defaultURL, "your department's OWN node API URL (the values never leave it in clear)")
	id := fs.String("id", "", "query ID (required)")
	values := fs.String("values", "", "the vector: comma- or space-separated non-negative integers")
	file := fs.String("file", "", "read the vector from this file (JSON array, or integers separated by commas, spaces or newlines)")
	af := addAuthFlags(fs, "polity-key.json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || (*values == "") == (*file == "") {
		return usageError{errors.New("-id and exactly one of -values and -file are required")}
	}
	text := *values
	if *file != "" {
		b, err := readBounded(*file, maxInputFile)
		if err != nil {
			return err
		}
		text = string(b)
	}
	vec, err := parseVector(text)
	if err != nil {
		return usageError{err}
	}
	var out openapi.AggregateInputAccepted
	c := newClient(*u)
	if c.auth, err = af.load(""); err != nil {
		return err
	}
	if _, err := c.do(context.Background(), "POST", "/v1/aggregate/queries/"+url.PathEscape(*id)+"/input", openapi.AggregateInput{Values: vec}, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

// parseVector reads a JSON array of integers, or integers separated by
// commas and white space.
func parseVector(s string) ([]uint64, error) {
	s = strings.TrimSpace(s)
	var out []uint64
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("vector: %w", err)
		}
	} else {
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("vector: %q is not a non-negative integer", f)
			}
			out = append(out, v)
		}
	}
	if len(out) == 0 || len(out) > aggregate.MaxVectorLen {
		return nil, fmt.Errorf("vector of %d values, want 1..%d", len(out), aggregate.MaxVectorLen)
	}
	return out, nil
}

func runAggregateGet(args []string, stdout io.Writer) error {
	fs := newFlags("aggregate get")
	u := fs.String("url", defaultURL, "node API URL")
	id := fs.String("id", "", "query ID (required)")
	wait := fs.Duration("wait", 0, "poll until the query is done or aborted, for at most this long (0: once)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *wait < 0 {
		return usageError{errors.New("-id is required; -wait must not be negative")}
	}
	c := newClient(*u)
	deadline := time.Now().Add(*wait)
	for {
		var q openapi.AggregateQuery
		if _, err := c.do(context.Background(), "GET", "/v1/aggregate/queries/"+url.PathEscape(*id), nil, &q); err != nil {
			return err
		}
		final := string(q.Phase) == aggregate.PhaseDone || string(q.Phase) == aggregate.PhaseAborted
		if final || *wait == 0 || time.Now().After(deadline) {
			if err := printJSON(stdout, q); err != nil {
				return err
			}
			if *wait > 0 && !final {
				return fmt.Errorf("query %s still %s after %s", *id, q.Phase, *wait)
			}
			return nil
		}
		time.Sleep(300 * time.Millisecond) // polling a remote API: no condition to wait on
	}
}

func runAggregateNodes(args []string, stdout io.Writer) error {
	fs := newFlags("aggregate nodes")
	u := fs.String("url", defaultURL, "node API URL")
	if err := parse(fs, args); err != nil {
		return err
	}
	var out openapi.AggregateNodeList
	if _, err := newClient(*u).do(context.Background(), "GET", "/v1/aggregate/nodes", nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "governance chain: %s\n%-10s %-40s\n", out.GovernanceChain, "NODE", "ADDRESS")
	for _, n := range out.Nodes {
		self := ""
		if n.Id == out.Self {
			self = "  (this node)"
		}
		fmt.Fprintf(stdout, "%-10s %-40s%s\n", n.Id, n.Address, self)
	}
	return nil
}
