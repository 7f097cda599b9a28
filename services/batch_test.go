package services

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
)

func batchPath(chainID string, wait int) string {
	return fmt.Sprintf("/v1/chains/%s/transactions/batch?wait=%d", chainID, wait)
}

func batchBody(txs ...*chain.Tx) []byte {
	req := openapi.SubmitBatchRequest{Txs: [][]byte{}}
	for _, tx := range txs {
		req.Txs = append(req.Txs, tx.Encode())
	}
	b, _ := json.Marshal(req)
	return b
}

// validBatch: two records.put from fresh senders (TestWriteAuth).
func validBatch(tn *testNet, chainID string) (string, string, []byte) {
	a := tn.tx(tn.key(), chainID, "records", "put", map[string]string{"id": "b1-" + chainID, "data": "ok"})
	b := tn.tx(tn.key(), chainID, "records", "put", map[string]string{"id": "b2-" + chainID, "data": "ok"})
	return "POST", batchPath(chainID, 10), batchBody(a, b)
}

// batchReply is a batch answer: results on 200, else the problem's code.
type batchReply struct {
	status  int
	code    string
	results []openapi.BatchResult
}

func (tn *testNet) doBatch(req *http.Request) batchReply {
	tn.t.Helper()
	resp, raw := tn.roundTrip(req)
	r := batchReply{status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		var p openapi.Problem
		if err := json.Unmarshal(raw, &p); err != nil {
			tn.t.Fatalf("%d: %s", resp.StatusCode, raw)
		}
		r.code = p.Code
		return r
	}
	var out openapi.SubmitBatchResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		tn.t.Fatalf("decode %s: %v", raw, err)
	}
	r.results = out.Results
	return r
}

// TestSubmitBatch: every entry gets the answer a single submit would give,
// in order; the admitted ones commit.
func TestSubmitBatch(t *testing.T) {
	tn := newTestNet(t)
	alice, bob := tn.key(), tn.key()
	put := func(id string) *chain.Tx {
		return tn.tx(alice, "health", "records", "put", map[string]string{"id": id, "data": "x"})
	}
	a0, a1, a2 := put("a0"), put("a1"), put("a2")
	forged := tn.tx(bob, "health", "records", "put", map[string]string{"id": "forged", "data": "x"})
	forged.Sig = append([]byte(nil), forged.Sig...)
	forged.Sig[0] ^= 1
	other := tn.tx(bob, "education", "records", "put", map[string]string{"id": "elsewhere", "data": "x"})
	unknown := tn.tx(tn.key(), "health", "records", "nosuch", map[string]string{})
	batch := []*chain.Tx{a0, a1, forged, other, a2, a0, unknown}
	want := []string{"committed", "committed", CodeBadSignature, CodeWrongChain, "committed", CodeDuplicate, CodeUnknownMethod}

	r := tn.doBatch(tn.request(tn.admin(), "POST", batchPath("health", 10), batchBody(batch...)))
	if r.status != http.StatusOK || len(r.results) != len(batch) {
		t.Fatalf("got %d %s with %d results", r.status, r.code, len(r.results))
	}
	height := uint64(0)
	for i, res := range r.results {
		if res.Id == nil || *res.Id != batch[i].ID(tn.suite).String() {
			t.Fatalf("result %d: id %v, want %s", i, res.Id, batch[i].ID(tn.suite))
		}
		got := string(res.Status)
		if res.Status == openapi.BatchRejected {
			if res.Problem == nil {
				t.Fatalf("result %d: rejected without a problem", i)
			}
			got = res.Problem.Code
		}
		// The second a0 is a duplicate of the pending first, or a replay
		// if a block committed it in between.
		if got != want[i] && !(want[i] == CodeDuplicate && got == CodeReplayed) {
			t.Errorf("result %d: %s, want %s (%+v)", i, got, want[i], res.Problem)
		}
		if res.Status == openapi.BatchCommitted {
			if res.Height == nil || res.Index == nil || res.Receipt == nil || res.Receipt.Status != openapi.ReceiptStatusOk {
				t.Fatalf("result %d: committed without height, index or an ok receipt: %+v", i, res)
			}
			height = max(height, *res.Height)
			// The single-transaction read agrees.
			tr := tn.do(tn.request(nil, "GET", "/v1/chains/health/transactions/"+*res.Id, nil))
			if tr.status != http.StatusOK || tr.tx.Status != openapi.Committed || *tr.tx.Height != *res.Height || *tr.tx.Index != *res.Index {
				t.Fatalf("result %d: GET says %d %+v", i, tr.status, tr.tx)
			}
		}
	}
	if height == 0 {
		t.Fatal("nothing committed")
	}

	// The same batch again: what committed is now a replay.
	r = tn.doBatch(tn.request(tn.admin(), "POST", batchPath("health", 0), batchBody(a0, a1, a2)))
	for i, res := range r.results {
		if res.Status != openapi.BatchRejected || res.Problem.Code != CodeReplayed {
			t.Errorf("resubmitted %d: %s %+v", i, res.Status, res.Problem)
		}
	}
	// Without wait, admitted entries are pending.
	r = tn.doBatch(tn.request(tn.admin(), "POST", batchPath("health", 0), batchBody(put("a3"))))
	if r.status != http.StatusOK || r.results[0].Status != openapi.BatchPending {
		t.Fatalf("no wait: %d %+v", r.status, r.results)
	}
}

// TestSubmitBatchAuth: the caller needs the role for every transaction of
// the batch; one outside it refuses the whole request, so nothing of it is
// admitted.
func TestSubmitBatchAuth(t *testing.T) {
	tn := newTestNet(t)
	carol := &signer{key: tn.key()}
	tn.grant(tn.keyDID(carol.key), RoleWriter, registry.Scope{Chain: "health", Module: "records", Method: "put"})
	ok := tn.tx(tn.key(), "health", "records", "put", map[string]string{"id": "c", "data": "x"})
	del := tn.tx(tn.key(), "health", "records", "delete", map[string]string{"id": "c"})
	if r := tn.doBatch(tn.request(carol, "POST", batchPath("health", 0), batchBody(ok, del))); r.status != http.StatusForbidden || r.code != CodeForbidden {
		t.Fatalf("batch with a transaction outside the role: %d %s", r.status, r.code)
	}
	if r := tn.do(tn.request(nil, "GET", "/v1/chains/health/transactions/"+ok.ID(tn.suite).String(), nil)); r.status != http.StatusNotFound {
		t.Fatalf("allowed transaction of a refused batch: %d %s", r.status, r.code)
	}
	if r := tn.doBatch(tn.request(carol, "POST", batchPath("health", 10), batchBody(ok))); r.status != http.StatusOK || r.results[0].Status != openapi.BatchCommitted {
		t.Fatalf("batch within the role: %d %s %+v", r.status, r.code, r.results)
	}
	if r := tn.doBatch(tn.request(nil, "POST", batchPath("health", 0), batchBody(del))); r.status != http.StatusUnauthorized {
		t.Fatalf("unsigned batch: %d %s", r.status, r.code)
	}
}

// TestSubmitBatchBounds: count, bytes and encoding are checked before any
// entry is admitted.
func TestSubmitBatchBounds(t *testing.T) {
	tn := newTestNet(t)
	k := tn.key()
	small := tn.tx(k, "health", "records", "put", map[string]string{"id": "s", "data": "x"})
	tooMany := make([]*chain.Tx, MaxBatchTxs+1)
	for i := range tooMany {
		tooMany[i] = small
	}
	big := tn.tx(k, "health", "records", "put", map[string]string{"id": "b", "data": strings.Repeat("x", 60_000)})
	fiveBig := batchBody(big, big, big, big, big)
	undecodable := []byte(`{"txs":["` + "AAAA" + `"]}`)
	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"empty", []byte(`{"txs":[]}`), http.StatusBadRequest, CodeBadRequest},
		{"too many", batchBody(tooMany...), http.StatusBadRequest, CodeBadRequest},
		{"too large", fiveBig, http.StatusRequestEntityTooLarge, CodeTooLarge},
		{"undecodable entry", undecodable, http.StatusBadRequest, CodeMalformedTx},
		{"unknown field", []byte(`{"txs":["AAAA"],"x":1}`), http.StatusBadRequest, CodeBadRequest},
	}
	for _, c := range cases {
		if r := tn.doBatch(tn.request(tn.admin(), "POST", batchPath("health", 0), c.body)); r.status != c.status || r.code != c.code {
			t.Errorf("%s (%d bytes): %d %s, want %d %s", c.name, len(c.body), r.status, r.code, c.status, c.code)
		}
	}
	if n, _ := tn.n.Chain("health"); n != nil {
		if pending, _ := n.PendingLen(); pending != 0 {
			t.Fatalf("%d transactions admitted from refused batches", pending)
		}
	}
}

// FuzzDecodeBatch: any body decodes to a bounded batch of canonical
// transactions, or to an error, never a panic.
func FuzzDecodeBatch(f *testing.F) {
	tn := &testNet{t: f, suite: suites.Default, nonces: map[chain.Address]uint64{}}
	k := tn.key()
	a := tn.tx(k, "health", "records", "put", map[string]string{"id": "a", "data": "x"})
	b := tn.tx(k, "health", "transfer", "send", map[string]any{"to": "00", "amount": 1})
	f.Add(batchBody(a))
	f.Add(batchBody(a, b, a))
	f.Add([]byte(`{"txs":[]}`))
	f.Add([]byte(`{"txs":["AAAA"]}`))
	f.Add([]byte(`{"txs":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		txs, err := decodeBatch(body)
		if err != nil {
			if txs != nil {
				t.Fatal("transactions with an error")
			}
			return
		}
		if len(txs) == 0 || len(txs) > MaxBatchTxs {
			t.Fatalf("%d transactions", len(txs))
		}
		var req openapi.SubmitBatchRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatal(err)
		}
		for i, tx := range txs {
			if !bytes.Equal(tx.Encode(), req.Txs[i]) {
				t.Fatalf("txs[%d] is not its entry re-encoded", i)
			}
		}
		scopes, err := batchScopes(body)
		if err != nil || len(scopes) == 0 || len(scopes) > len(txs) {
			t.Fatalf("%d scopes for %d transactions (%v)", len(scopes), len(txs), err)
		}
	})
}
