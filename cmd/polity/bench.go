package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/openapi"
	"github.com/polityledger/polity/services"
)

// benchResult is what `polity bench --json` prints.
type benchResult struct {
	Workload     string  `json:"workload"`
	Chain        string  `json:"chain"`
	Nodes        int     `json:"nodes"`
	DurationS    float64 `json:"duration_s"`
	Submitted    int64   `json:"submitted"`
	Committed    int64   `json:"committed"`
	Rejected     int64   `json:"rejected"`
	OfferedTPS   float64 `json:"offered_tps"`
	CommittedTPS float64 `json:"committed_tps"`
	P50ms        float64 `json:"p50_ms"`
	P95ms        float64 `json:"p95_ms"`
	P99ms        float64 `json:"p99_ms"`
	Agree        bool    `json:"agree"`
	AgreeHeight  uint64  `json:"agree_height"`
}

func runBench(args []string, stdout io.Writer) error {
	fs := newFlags("bench")
	url := fs.String("url", "", "one node's API URL (e.g. the devnet's http://127.0.0.1:8080)")
	netFile := fs.String("network", "", "network.json from polity init: load every node")
	chainID := fs.String("chain", "health", "chain to load")
	duration := fs.Duration("duration", 30*time.Second, "how long to offer load")
	rate := fs.Float64("rate", 0, "offered transactions per second (0: as fast as admitted)")
	workload := fs.String("workload", "record", "record (≈250-byte records, independent keys) or hotspot (a few senders rewrite the same records)")
	senders := fs.Int("senders", 64, "signing accounts")
	inflight := fs.Int("inflight", 256, "concurrent requests")
	asJSON := fs.Bool("json", false, "print one JSON object")
	authPath := fs.String("auth-key", "", "key file that signs every request (default: operator.json beside -network, or ./data/operator.json, the devnet's; its DID needs writer for records.put on -chain)")
	authKeyID := fs.String("auth-keyid", "", "DID URL of the -auth-key method, for a registered DID (default: the key's own key DID)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *authPath == "" {
		*authPath = filepath.Join("data", node.OperatorKeyFile)
		if *netFile != "" {
			*authPath = filepath.Join(filepath.Dir(*netFile), node.OperatorKeyFile)
		}
	}
	auth, err := loadAuthKey(*authPath, *authKeyID)
	if err != nil {
		return fmt.Errorf("%w (give -auth-key)", err)
	}
	var urls []string
	switch {
	case *netFile != "":
		entries, err := node.LoadNetwork(*netFile)
		if err != nil {
			return err
		}
		for _, e := range entries {
			urls = append(urls, "http://"+e.HTTP)
		}
	case *url != "":
		urls = []string{strings.TrimRight(*url, "/")}
	default:
		return usageError{errors.New("give -url or -network")}
	}
	if *workload != "record" && *workload != "hotspot" {
		return usageError{fmt.Errorf("unknown workload %q", *workload)}
	}
	if *senders < 1 || *inflight < 1 {
		return usageError{errors.New("-senders and -inflight must be positive")}
	}
	s := suites.Default
	type sender struct {
		mu    sync.Mutex
		key   crypto.PrivateKey
		nonce uint64
	}
	nSenders := *senders
	if *workload == "hotspot" {
		nSenders = min(nSenders, 4)
	}
	accts := make([]*sender, nSenders)
	for i := range accts {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			return err
		}
		accts[i] = &sender{key: k}
	}
	payload := strings.Repeat("x", 200)
	var seq atomic.Int64
	// next builds and signs the next transaction of a sender in turn.
	next := func() (*chain.Tx, error) {
		n := seq.Add(1)
		a := accts[int(n)%len(accts)]
		a.mu.Lock()
		defer a.mu.Unlock()
		id := fmt.Sprintf("bench-%d", n)
		if *workload == "hotspot" {
			id = fmt.Sprintf("hot-%d", n%8)
		}
		tx := &chain.Tx{ChainID: *chainID, Nonce: a.nonce, Module: "records", Method: "put",
			Args: fmt.Appendf(nil, `{"id":%q,"data":%q}`, id, payload)}
		if err := tx.Sign(s, a.key); err != nil {
			return nil, err
		}
		a.nonce++
		return tx, nil
	}
	var (
		submitted, committed, rejected atomic.Int64
		signErr                        atomic.Pointer[error]
		firstReject                    atomic.Pointer[string]
		latMu                          sync.Mutex
		lats                           []time.Duration
	)
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *inflight}}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	work := make(chan *chain.Tx, *inflight)
	var wg sync.WaitGroup
	for w := 0; w < *inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tx := range work {
				body, _ := json.Marshal(openapi.SubmitRequest{Tx: tx.Encode()})
				u := urls[int(tx.Nonce)%len(urls)] + "/v1/chains/" + *chainID + "/transactions?wait=30"
				start := time.Now()
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, bytes.NewReader(body))
				if err == nil {
					req.Header.Set("Content-Type", "application/json")
					err = services.SignRequest(req, auth.suite, auth.key, auth.keyid)
				}
				if err != nil {
					signErr.CompareAndSwap(nil, &err)
					rejected.Add(1)
					continue
				}
				resp, err := hc.Do(req)
				if err != nil {
					rejected.Add(1)
					continue
				}
				raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					msg := fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(raw))
					firstReject.CompareAndSwap(nil, &msg)
				}
				switch resp.StatusCode {
				case http.StatusOK:
					committed.Add(1)
					latMu.Lock()
					lats = append(lats, time.Since(start))
					latMu.Unlock()
				case http.StatusAccepted: // accepted, not committed within the wait
				default:
					rejected.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	if !*asJSON {
		go func() {
			progress := time.NewTicker(time.Second)
			defer progress.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-progress.C:
					fmt.Fprintf(os.Stderr, "\r%5.0fs  submitted %d  committed %d  rejected %d   ", time.Since(start).Seconds(), submitted.Load(), committed.Load(), rejected.Load())
				}
			}
		}()
	}
	var interval time.Duration
	if *rate > 0 {
		interval = time.Duration(float64(time.Second) / *rate)
	}
	nextAt := start
loop:
	for {
		if interval > 0 {
			if d := time.Until(nextAt); d > 0 {
				select {
				case <-ctx.Done():
					break loop
				case <-time.After(d):
				}
			}
			nextAt = nextAt.Add(interval)
		}
		tx, err := next()
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			break loop
		case work <- tx:
			submitted.Add(1)
		}
	}
	offerEnd := time.Since(start)
	close(work)
	wg.Wait()
	if e := signErr.Load(); e != nil {
		return fmt.Errorf("signing requests: %w", *e)
	}
	if m := firstReject.Load(); m != nil {
		fmt.Fprintf(os.Stderr, "first rejection: %s\n", *m)
	}
	elapsed := time.Since(start)
	if !*asJSON {
		fmt.Fprintln(os.Stderr)
	}
	res := benchResult{Workload: *workload, Chain: *chainID, Nodes: len(urls), DurationS: offerEnd.Seconds(),
		Submitted: submitted.Load(), Committed: committed.Load(), Rejected: rejected.Load()}
	res.OfferedTPS = float64(res.Submitted) / offerEnd.Seconds()
	res.CommittedTPS = float64(res.Committed) / elapsed.Seconds()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[min(len(lats)-1, int(p*float64(len(lats))))].Microseconds()) / 1000
	}
	res.P50ms, res.P95ms, res.P99ms = pct(0.50), pct(0.95), pct(0.99)
	res.Agree, res.AgreeHeight = agreement(urls, *chainID)
	if *asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "workload %s on %s, %d node(s), %.0fs\n", res.Workload, res.Chain, res.Nodes, res.DurationS)
	fmt.Fprintf(stdout, "offered   %8.0f tx/s  (%d submitted)\ncommitted %8.0f tx/s  (%d committed, %d rejected)\n", res.OfferedTPS, res.Submitted, res.CommittedTPS, res.Committed, res.Rejected)
	fmt.Fprintf(stdout, "latency   p50 %.0f ms  p95 %.0f ms  p99 %.0f ms (submit → committed receipt)\n", res.P50ms, res.P95ms, res.P99ms)
	fmt.Fprintf(stdout, "agree     %v (block hash and state root at height %d on every node)\n", res.Agree, res.AgreeHeight)
	return nil
}

// agreement compares every node's header at the lowest common height.
func agreement(urls []string, chainID string) (bool, uint64) {
	ctx := context.Background()
	h := uint64(1<<63 - 1)
	for _, u := range urls {
		var cd openapi.ChainDetail
		if _, err := newClient(u).do(ctx, "GET", "/v1/chains/"+chainID, nil, &cd); err != nil {
			return false, 0
		}
		h = min(h, cd.Height)
	}
	var hash, root string
	for i, u := range urls {
		var b openapi.Block
		if _, err := newClient(u).do(ctx, "GET", fmt.Sprintf("/v1/chains/%s/blocks/%d", chainID, h), nil, &b); err != nil {
			return false, h
		}
		if i == 0 {
			hash, root = b.Header.Hash, b.Header.StateRoot
		} else if b.Header.Hash != hash || b.Header.StateRoot != root {
			return false, h
		}
	}
	return true, h
}
