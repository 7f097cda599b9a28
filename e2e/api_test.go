//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// The suite observes the nodes through their public HTTP API only
// (openapi/polity.yaml); these are the parts of its responses it reads.

type chainSummary struct {
	ID       string `json:"id"`
	Height   uint64 `json:"height"`
	Base     uint64 `json:"base"`
	HeadHash string `json:"head_hash"`
}

type header struct {
	ChainID   string `json:"chain_id"`
	Height    uint64 `json:"height"`
	Parent    string `json:"parent"`
	Proposer  string `json:"proposer"`
	StateRoot string `json:"state_root"`
	Hash      string `json:"hash"`
	TxCount   uint64 `json:"tx_count"`
}

type block struct {
	Header       header `json:"header"`
	Transactions []struct {
		ID string `json:"id"`
	} `json:"transactions"`
}

type txView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Height uint64 `json:"height"`
	Header header `json:"header"`
}

// getJSON GETs url into out; it returns the HTTP status (0 on a transport
// error).
func (c *cluster) getJSON(url string, out any) (int, error) {
	resp, err := c.api.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, bytes.TrimSpace(body))
	}
	return resp.StatusCode, json.Unmarshal(body, out)
}

// height returns node i's height of chainID.
func (c *cluster) height(i int, chainID string) (uint64, error) {
	s, err := c.summary(i, chainID)
	return s.Height, err
}

// summary is node i's summary of chainID (height, base).
func (c *cluster) summary(i int, chainID string) (chainSummary, error) {
	var list struct {
		Chains []chainSummary `json:"chains"`
	}
	if _, err := c.getJSON(c.nodes[i].api+"/v1/chains", &list); err != nil {
		return chainSummary{}, err
	}
	for _, ch := range list.Chains {
		if ch.ID == chainID {
			return ch, nil
		}
	}
	return chainSummary{}, fmt.Errorf("%s does not host %s", c.nodes[i].id, chainID)
}

// heights returns the height of chainID on each node of idx that answers
// (paused and stopped nodes are skipped without waiting).
func (c *cluster) heights(idx []int, chainID string) map[int]uint64 {
	type res struct {
		i int
		h uint64
		e error
	}
	ch := make(chan res, len(idx))
	n := 0
	for _, i := range idx {
		if !c.nodes[i].isRunning() || c.nodes[i].isPaused() {
			continue
		}
		n++
		go func() {
			h, err := c.height(i, chainID)
			ch <- res{i, h, err}
		}()
	}
	out := map[int]uint64{}
	for range n {
		r := <-ch
		if r.e == nil {
			out[r.i] = r.h
		}
	}
	return out
}

func maxOf(m map[int]uint64) uint64 {
	var x uint64
	for _, v := range m {
		x = max(x, v)
	}
	return x
}

func minOf(m map[int]uint64) uint64 {
	first := true
	var x uint64
	for _, v := range m {
		if first || v < x {
			x, first = v, false
		}
	}
	return x
}

func (c *cluster) block(i int, chainID string, h uint64) (*block, error) {
	var b block
	code, err := c.getJSON(fmt.Sprintf("%s/v1/chains/%s/blocks/%d", c.nodes[i].api, chainID, h), &b)
	if code == http.StatusGone {
		return nil, fmt.Errorf("%w: %w", errPruned, err)
	}
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// errPruned is a block below the node's base (410).
var errPruned = errors.New("pruned")

// leader returns the index of the proposer of the latest block of chainID,
// which is the current leader unless a view change has happened since.
func (c *cluster) leader(t *testing.T, chainID string) int {
	t.Helper()
	hs := c.heights(c.all(), chainID)
	top, at := uint64(0), -1
	for i, h := range hs {
		if at < 0 || h > top {
			top, at = h, i
		}
	}
	if at < 0 || top == 0 {
		t.Fatalf("no block on %s to find the leader by (heights %v)", chainID, hs)
	}
	b, err := c.block(at, chainID, top)
	if err != nil {
		t.Fatal(err)
	}
	i := c.index(b.Header.Proposer)
	if i < 0 {
		t.Fatalf("block %d proposed by unknown node %q", top, b.Header.Proposer)
	}
	return i
}

// follower returns a node other than those in not.
func (c *cluster) follower(not ...int) int {
	for i := len(c.nodes) - 1; i >= 0; i-- {
		skip := false
		for _, n := range not {
			skip = skip || n == i
		}
		if !skip {
			return i
		}
	}
	return -1
}

func without(idx []int, drop ...int) []int {
	var out []int
	for _, i := range idx {
		keep := true
		for _, d := range drop {
			keep = keep && i != d
		}
		if keep {
			out = append(out, i)
		}
	}
	return out
}

// waitCommitAbove waits until every node of idx has committed a block of
// chainID above `above` and returns how long that took since `from`. It
// fails the test if that takes longer than limit.
func (c *cluster) waitCommitAbove(t *testing.T, idx []int, chainID string, above uint64, from time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		hs := c.heights(idx, chainID)
		if len(hs) == len(idx) && minOf(hs) > above {
			return time.Since(from)
		}
		if time.Since(from) > limit {
			t.Fatalf("%s: nodes %s did not all commit above height %d within %v (heights now %v)", chainID, c.ids(idx), above, limit, c.named(hs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRecovery polls every node's height of chainID from `from` until all
// of them have committed above `above` (resumed) and until they all stand at
// one height above it (caught up). It fails the test after limit.
func (c *cluster) waitRecovery(t *testing.T, chainID string, above uint64, from time.Time, limit time.Duration) (resumed, caught time.Duration) {
	t.Helper()
	all := c.all()
	for {
		hs := c.heights(all, chainID)
		if len(hs) == len(all) && minOf(hs) > above {
			if resumed == 0 {
				resumed = time.Since(from)
			}
			if minOf(hs) == maxOf(hs) {
				return resumed, time.Since(from)
			}
		}
		if time.Since(from) > limit {
			t.Fatalf("%s: %v after the fault ended, the nodes have not all committed above %d at one height (heights %v)", chainID, limit, above, c.named(hs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) named(hs map[int]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for i, h := range hs {
		out[c.nodes[i].id] = h
	}
	return out
}
