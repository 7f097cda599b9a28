package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/openapi"
	"github.com/polityledger/polity/services"
)

// benchStats counts a bench run's outcomes; latencies are per committed
// transaction, from sending its request to reading its committed receipt.
type benchStats struct {
	committed, rejected, failed atomic.Int64
	firstReject                 atomic.Pointer[string]

	mu   sync.Mutex
	lats []time.Duration
}

// benchWait is the commit wait every bench request asks for (seconds).
const benchWait = 30

// batches groups the encoded transactions of work into slices of up to n:
// it blocks for the first, then takes what is already queued, so a batch
// never waits to fill.
func batches(work <-chan []byte, n int) <-chan [][]byte {
	out := make(chan [][]byte)
	go func() {
		defer close(out)
		for first := range work {
			txs := [][]byte{first}
		fill:
			for len(txs) < n {
				select {
				case tx, ok := <-work:
					if !ok {
						break fill
					}
					txs = append(txs, tx)
				default:
					break fill
				}
			}
			out <- txs
		}
	}()
	return out
}

// post sends a signed JSON request and returns the answer's status and
// body; transport failures count every transaction as rejected. A signing
// failure is returned.
func (st *benchStats) post(hc *http.Client, url string, auth *authKey, body any, n int) (int, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(raw))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		err = services.SignRequest(req, auth.suite, auth.key, auth.keyid)
	}
	if err != nil {
		st.rejected.Add(int64(n))
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		st.rejected.Add(int64(n))
		return 0, nil, nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode >= 300 {
		msg := fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(out))
		st.firstReject.CompareAndSwap(nil, &msg)
		st.rejected.Add(int64(n))
	}
	return resp.StatusCode, out, nil
}

// commit records n transactions committed after took, failed of them with
// a failed (or unreadable) receipt.
func (st *benchStats) commit(n, failed int, took time.Duration) {
	st.committed.Add(int64(n))
	st.failed.Add(int64(failed))
	st.mu.Lock()
	for range n {
		st.lats = append(st.lats, took)
	}
	st.mu.Unlock()
}

// submitOne posts one encoded transaction to base (the chain's
// /transactions).
func (st *benchStats) submitOne(hc *http.Client, base string, auth *authKey, tx []byte) error {
	start := time.Now()
	status, raw, err := st.post(hc, fmt.Sprintf("%s?wait=%d", base, benchWait), auth, openapi.SubmitRequest{Tx: tx}, 1)
	if err != nil || status != http.StatusOK {
		return err // 202: accepted, not committed within the wait
	}
	var out struct {
		Receipt *struct{ Error *string } `json:"receipt"`
	}
	failed := 0
	if json.Unmarshal(raw, &out) != nil || out.Receipt == nil || out.Receipt.Error != nil {
		failed = 1
	}
	st.commit(1, failed, time.Since(start))
	return nil
}

// submitBatch posts encoded transactions to base/batch; each committed
// one's latency is the request's.
func (st *benchStats) submitBatch(hc *http.Client, base string, auth *authKey, txs [][]byte) error {
	body := openapi.SubmitBatchRequest{Txs: txs}
	start := time.Now()
	status, raw, err := st.post(hc, fmt.Sprintf("%s/batch?wait=%d", base, benchWait), auth, body, len(txs))
	if err != nil || status != http.StatusOK {
		return err
	}
	took := time.Since(start)
	var out openapi.SubmitBatchResponse
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Results) != len(txs) {
		msg := fmt.Sprintf("unreadable batch answer (%d results for %d): %.200s", len(out.Results), len(txs), raw)
		st.firstReject.CompareAndSwap(nil, &msg)
		st.rejected.Add(int64(len(txs)))
		return nil
	}
	committed, failed := 0, 0
	for _, r := range out.Results {
		switch r.Status {
		case openapi.BatchCommitted:
			committed++
			if r.Receipt == nil || r.Receipt.Error != nil {
				failed++
			}
		case openapi.BatchRejected:
			st.rejected.Add(1)
			if r.Problem != nil && r.Problem.Detail != nil {
				msg := r.Problem.Code + ": " + *r.Problem.Detail
				st.firstReject.CompareAndSwap(nil, &msg)
			}
		}
	}
	st.commit(committed, failed, took)
	return nil
}
