//go:build e2e

package e2e

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/services"
)

// ack is a transaction the API told a client is committed: a 200 answer
// to a submission with wait, or a lookup that says committed.
type ack struct {
	chain  string
	id     string
	height uint64
	hash   string // header hash of the block at height
	node   int    // the node that said so
	at     time.Time
}

// load is the load generator: workers, each with its own key and
// sequential nonces, submit records.put through random nodes with wait=10.
// A worker resubmits the same transaction (same bytes, same ID) until some
// node reports it committed, so a nonce is never skipped.
type load struct {
	c      *cluster
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	client *http.Client

	mu     sync.Mutex
	acks   []ack
	oddity []string // answers that should never happen

	posts, retries atomic.Int64
}

// workersPerChain is the default load: most on the health chain, one worker
// on a second chain so the checker walks two chains with transactions.
var workersPerChain = map[string]int{loadChain: 12, otherChain: 2}

func (c *cluster) startLoad(t *testing.T, workers map[string]int) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{c: c, ctx: ctx, cancel: cancel, client: &http.Client{Timeout: 20 * time.Second}}
	w := 0
	for chainID, n := range workers {
		for range n {
			s := ed25519sha256.New()
			k, err := s.GenerateKey(crand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			l.wg.Add(1)
			go l.worker(chainID, w, s, k)
			w++
		}
	}
	t.Cleanup(l.stop)
	c.logf("load started: %v", workers)
	return l
}

// stop ends the load; an unanswered submission stays unacknowledged.
func (l *load) stop() {
	if l.ctx.Err() != nil {
		return
	}
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	n := len(l.acks)
	l.mu.Unlock()
	l.c.logf("load stopped: %d acknowledged, %d submissions, %d retries", n, l.posts.Load(), l.retries.Load())
}

func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

func (l *load) snapshot() ([]ack, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acks...), append([]string(nil), l.oddity...)
}

// waitAcks waits until n more transactions than `since` are acknowledged.
func (l *load) waitAcks(t *testing.T, since, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for l.count() < since+n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d transactions acknowledged within %v", l.count()-since, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *load) record(a ack) {
	l.mu.Lock()
	l.acks = append(l.acks, a)
	l.mu.Unlock()
}

func (l *load) odd(format string, args ...any) {
	l.mu.Lock()
	l.oddity = append(l.oddity, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *load) sleep(d time.Duration) bool {
	select {
	case <-l.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (l *load) worker(chainID string, w int, s crypto.Suite, k crypto.PrivateKey) {
	defer l.wg.Done()
	for nonce := uint64(0); l.ctx.Err() == nil; nonce++ {
		tx := &chain.Tx{ChainID: chainID, Nonce: nonce, Module: "records", Method: "put",
			Args: fmt.Appendf(nil, `{"id":"w%d-%d","data":"payload %d of worker %d"}`, w, nonce, nonce, w)}
		if err := tx.Sign(s, k); err != nil {
			l.odd("sign: %v", err)
			return
		}
		body, _ := json.Marshal(map[string]string{"tx": base64.StdEncoding.EncodeToString(tx.Encode())})
		id := tx.ID(s).String()
		if !l.submit(chainID, id, body) {
			return
		}
	}
}

// submit posts one transaction until a node reports it committed; false
// when the load stops first.
func (l *load) submit(chainID, id string, body []byte) bool {
	for attempt := 0; l.ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			l.retries.Add(1)
		}
		i := rand.IntN(len(l.c.nodes))
		api := l.c.nodes[i].api
		l.posts.Add(1)
		status, v, code, err := l.post(api+"/v1/chains/"+chainID+"/transactions?wait=10", body)
		switch {
		case err != nil: // node down, paused or unreachable: try another
			if !l.sleep(50 * time.Millisecond) {
				return false
			}
		case status == http.StatusOK && v.Status == "committed":
			l.record(ack{chain: chainID, id: id, height: v.Height, hash: v.Header.Hash, node: i, at: time.Now()})
			return true
		case status == http.StatusOK:
			l.odd("%s answered 200 with status %q for %s", l.c.nodes[i].id, v.Status, id)
			if !l.sleep(200 * time.Millisecond) {
				return false
			}
		case status == http.StatusAccepted, code == "duplicate", code == "replayed":
			// Pending (wait timed out), already in that node's pool, or its
			// nonce is used: only this transaction holds it, so it may be
			// committed. Ask.
			if a, ok := l.lookup(chainID, id, i); ok {
				l.record(a)
				return true
			}
			if code == "replayed" {
				l.odd("%s said %s is replayed but does not report it committed", l.c.nodes[i].id, id)
			}
			if !l.sleep(200 * time.Millisecond) {
				return false
			}
		case code == "not_ordering", code == "mempool_full", code == "nonce_gap", code == "sender_quota":
			// No leader yet, full, or a node behind on our previous nonce.
			if !l.sleep(100 * time.Millisecond) {
				return false
			}
		default:
			l.odd("%s answered %d %q for %s", l.c.nodes[i].id, status, code, id)
			if !l.sleep(200 * time.Millisecond) {
				return false
			}
		}
	}
	return false
}

func (l *load) post(url string, body []byte) (int, txView, string, error) {
	req, err := http.NewRequestWithContext(l.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, txView{}, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := services.SignRequest(req, l.c.opSuite, l.c.opKey, ""); err != nil {
		return 0, txView{}, "", err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, txView{}, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, txView{}, "", err
	}
	var v txView
	var p struct {
		Code string `json:"code"`
	}
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, &v); err != nil {
			return 0, txView{}, "", err
		}
	} else {
		json.Unmarshal(raw, &p)
	}
	return resp.StatusCode, v, p.Code, nil
}

// lookup asks node i whether the transaction is committed.
func (l *load) lookup(chainID, id string, i int) (ack, bool) {
	var v txView
	if _, err := l.c.getJSON(l.c.nodes[i].api+"/v1/chains/"+chainID+"/transactions/"+id, &v); err != nil || v.Status != "committed" {
		return ack{}, false
	}
	return ack{chain: chainID, id: id, height: v.Height, hash: v.Header.Hash, node: i, at: time.Now()}, true
}
