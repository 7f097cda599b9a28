package main

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/domains/records"
	"github.com/polityledger/polity/domains/transfer"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/openapi"
	"github.com/polityledger/polity/services"
)

// benchResult is what `polity bench --json` prints.
type benchResult struct {
	Workload     string  `json:"workload"`
	Chain        string  `json:"chain"`
	Nodes        int     `json:"nodes"`
	Batch        int     `json:"batch"`     // transactions per request
	Presigned    int     `json:"presigned"` // signed before the run (-presign)
	DurationS    float64 `json:"duration_s"`
	Submitted    int64   `json:"submitted"`
	Committed    int64   `json:"committed"`
	Rejected     int64   `json:"rejected"`
	Failed       int64   `json:"failed"` // committed with a failed receipt
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
	workload := fs.String("workload", "transfer", "transfer (independent transfers), hotspot (a share of transfers into one account, see -hot) or record (≈250-byte records)")
	hot := fs.Float64("hot", 0.5, "hotspot: share of transfers that go to the one hot account (0..1)")
	operator := fs.String("operator", "", "key file of a transfer minter, to fund the senders; also signs the requests unless -auth-key is given (default: operator.json beside -network, or ./data/operator.json with -url)")
	senders := fs.Int("senders", 64, "signing accounts")
	inflight := fs.Int("inflight", 0, "concurrent requests (default 256 with -batch 1, else 16)")
	batch := fs.Int("batch", 64, "transactions per request: 1 posts each to /transactions, more post up to that many to /transactions/batch (at most 512)")
	presign := fs.Int("presign", 0, "sign this many transactions, on all cores, before the timed run, and send those first (then sign as it sends): the run measures the network, not the load generator's signing")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load generator to this file")
	af := addAuthFlags(fs, "") // default: the -operator key
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *operator == "" {
		*operator = filepath.Join("data", node.OperatorKeyFile)
		if *netFile != "" {
			*operator = filepath.Join(filepath.Dir(*netFile), node.OperatorKeyFile)
		}
	}
	auth, err := af.load(*operator)
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
	if *workload != "record" && *workload != "hotspot" && *workload != "transfer" {
		return usageError{fmt.Errorf("unknown workload %q", *workload)}
	}
	if *hot < 0 || *hot > 1 {
		return usageError{errors.New("-hot must be in 0..1")}
	}
	if *inflight == 0 {
		*inflight = 256
		if *batch > 1 {
			*inflight = 16
		}
	}
	if *senders < 1 || *inflight < 1 || *batch < 1 || *batch > services.MaxBatchTxs {
		return usageError{fmt.Errorf("-senders and -inflight must be positive, -batch 1..%d", services.MaxBatchTxs)}
	}
	if *presign < 0 || *presign > maxPresign {
		return usageError{fmt.Errorf("-presign must be in 0..%d", maxPresign)}
	}
	s := suites.Default
	type sender struct {
		mu    sync.Mutex
		key   crypto.PrivateKey
		nonce uint64
	}
	accts := make([]*sender, *senders)
	keys := make([]crypto.PrivateKey, *senders)
	for i := range accts {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			return err
		}
		accts[i], keys[i] = &sender{key: k}, k
	}
	if *workload != "record" {
		if err := fund(urls[0], *chainID, *operator, auth, keys, stdout, *asJSON); err != nil {
			return err
		}
	}
	// Each sender pays its own recipient (no two senders' transfers share
	// a key); a hotspot transfer pays the one hot account instead.
	recipients := make([]string, len(accts))
	for i := range recipients {
		var a chain.Address
		crand.Read(a[:])
		recipients[i] = a.String()
	}
	hotAccount := recipients[0]
	runID := recipients[1%len(recipients)][:8] // record IDs never collide with an earlier run's
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var rngMu sync.Mutex
	payload := strings.Repeat("x", 200)
	// build builds and signs sender i's next transaction; n is unique to
	// it among the run's transactions.
	build := func(i int, n int64) ([]byte, error) {
		a := accts[i]
		a.mu.Lock()
		defer a.mu.Unlock()
		tx := &chain.Tx{ChainID: *chainID, Nonce: a.nonce, Module: transfer.Name, Method: "send"}
		switch *workload {
		case "record":
			tx.Module, tx.Method = records.Name, "put"
			tx.Args = fmt.Appendf(nil, `{"id":"bench-%s-%d","data":%q}`, runID, n, payload)
		case "transfer":
			tx.Args = fmt.Appendf(nil, `{"to":%q,"amount":1}`, recipients[i])
		case "hotspot":
			rngMu.Lock()
			to := recipients[i]
			if rng.Float64() < *hot {
				to = hotAccount
			}
			rngMu.Unlock()
			tx.Args = fmt.Appendf(nil, `{"to":%q,"amount":1}`, to)
		}
		if err := tx.Sign(s, a.key); err != nil {
			return nil, err
		}
		a.nonce++
		return tx.Encode(), nil
	}
	ahead, err := signAhead(*presign, len(accts), build)
	if err != nil {
		return err
	}
	var seq atomic.Int64
	// next is the next transaction: a pre-signed one while they last, then
	// one of each sender in turn, signed now.
	next := func() ([]byte, error) {
		n := seq.Add(1)
		if int(n) <= len(ahead) {
			tx := ahead[n-1]
			ahead[n-1] = nil
			return tx, nil
		}
		return build(int(n)%len(accts), n)
	}
	var (
		submitted atomic.Int64
		signErr   atomic.Pointer[error]
		st        benchStats
	)
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *inflight}}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	work := make(chan []byte, *inflight**batch)
	var wg sync.WaitGroup
	var sends atomic.Int64
	for w := 0; w < *inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for txs := range batches(work, *batch) {
				base := urls[int(sends.Add(1))%len(urls)] + "/v1/chains/" + *chainID + "/transactions"
				var err error
				if *batch == 1 {
					err = st.submitOne(hc, base, auth, txs[0])
				} else {
					err = st.submitBatch(hc, base, auth, txs)
				}
				if err != nil {
					signErr.CompareAndSwap(nil, &err)
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
					fmt.Fprintf(os.Stderr, "\r%5.0fs  submitted %d  committed %d  rejected %d   ", time.Since(start).Seconds(), submitted.Load(), st.committed.Load(), st.rejected.Load())
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
	if m := st.firstReject.Load(); m != nil {
		fmt.Fprintf(os.Stderr, "first rejection: %s\n", *m)
	}
	elapsed := time.Since(start)
	if !*asJSON {
		fmt.Fprintln(os.Stderr)
	}
	res := benchResult{Workload: *workload, Chain: *chainID, Nodes: len(urls), DurationS: offerEnd.Seconds(),
		Submitted: submitted.Load(), Committed: st.committed.Load(), Rejected: st.rejected.Load(), Failed: st.failed.Load(), Batch: *batch, Presigned: len(ahead)}
	res.OfferedTPS = float64(res.Submitted) / offerEnd.Seconds()
	res.CommittedTPS = float64(res.Committed) / elapsed.Seconds()
	lats := st.lats
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
	fmt.Fprintf(stdout, "workload %s on %s, %d node(s), %.0fs, %d transactions signed before the run\n", res.Workload, res.Chain, res.Nodes, res.DurationS, res.Presigned)
	fmt.Fprintf(stdout, "offered   %8.0f tx/s  (%d submitted)\ncommitted %8.0f tx/s  (%d committed, %d of them failed; %d rejected)\n", res.OfferedTPS, res.Submitted, res.CommittedTPS, res.Committed, res.Failed, res.Rejected)
	fmt.Fprintf(stdout, "latency   p50 %.0f ms  p95 %.0f ms  p99 %.0f ms (submit → committed receipt)\n", res.P50ms, res.P95ms, res.P99ms)
	fmt.Fprintf(stdout, "agree     %v (block hash and state root at height %d on every node)\n", res.Agree, res.AgreeHeight)
	return nil
}

// maxPresign bounds -presign (about 300 bytes each held in memory).
const maxPresign = 10_000_000

// signAhead signs n transactions (rounded up to whole rounds of all
// senders) on all cores before a run: sender i's transaction of round r
// goes to index r*senders+i, built as build(i, index+1). Each sender's
// transactions are signed in order by one goroutine, so its nonces follow
// the indices.
func signAhead(n, senders int, build func(i int, n int64) ([]byte, error)) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	rounds := (n + senders - 1) / senders
	out := make([][]byte, rounds*senders)
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < senders; i += len(errs) {
				for r := range rounds {
					at := r*senders + i
					tx, err := build(i, int64(at+1))
					if err != nil {
						errs[w] = err
						return
					}
					out[at] = tx
				}
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
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

// fundEach is what every bench sender receives: more than any run sends.
const fundEach = 1 << 40

// fund mints fundEach units to every key with the minter key in keyPath,
// and waits until all mints are committed.
func fund(url, chainID, keyPath string, auth *authKey, keys []crypto.PrivateKey, stdout io.Writer, quiet bool) error {
	s, minter, err := keyfile.Load(keyPath)
	if err != nil {
		return fmt.Errorf("funding senders needs a minter key: %w", err)
	}
	c := newClient(url)
	c.auth = auth
	ctx := context.Background()
	var acct openapi.Account
	addr := chain.AddressOf(s, minter.Public().Bytes())
	if _, err := c.do(ctx, "GET", "/v1/chains/"+chainID+"/accounts/"+addr.String(), nil, &acct); err != nil {
		return fmt.Errorf("minter nonce: %w", err)
	}
	errs := make(chan error, len(keys))
	for i, k := range keys {
		to := chain.AddressOf(s, k.Public().Bytes())
		tx := &chain.Tx{ChainID: chainID, Nonce: acct.NextNonce + uint64(i), Module: transfer.Name, Method: "mint",
			Args: fmt.Appendf(nil, `{"to":%q,"amount":%d}`, to.String(), fundEach)}
		if err := tx.Sign(s, minter); err != nil {
			return err
		}
		go func() {
			var out openapi.Transaction
			_, err := c.do(ctx, "POST", "/v1/chains/"+chainID+"/transactions?wait=60", openapi.SubmitRequest{Tx: tx.Encode()}, &out)
			switch {
			case err != nil:
			case out.Status != openapi.Committed:
				err = fmt.Errorf("mint not committed within 60s: %s", out.Status)
			case out.Receipt != nil && out.Receipt.Error != nil:
				err = fmt.Errorf("mint failed: %s", *out.Receipt.Error)
			}
			errs <- err
		}()
	}
	for range keys {
		if err := <-errs; err != nil {
			return fmt.Errorf("fund senders: %w", err)
		}
	}
	if !quiet {
		fmt.Fprintf(stdout, "funded %d senders\n", len(keys))
	}
	return nil
}
