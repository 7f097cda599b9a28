package main

// End to end through the CLI and the API of a devnet: four health
// departments (the four nodes) answer a cross-department count with
// threshold homomorphic aggregation over the nodes' p2p mesh.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/privacy/he"
)

type aggQueryView struct {
	ID           string   `json:"id"`
	Phase        string   `json:"phase"`
	Result       []uint64 `json:"result"`
	ResultHash   string   `json:"result_hash"`
	Participants []struct {
		Node            string `json:"node"`
		Approved        bool   `json:"approved"`
		BoxKey          string `json:"box_key"`
		KeyShare        string `json:"key_share_hash"`
		Contribution    string `json:"contribution_hash"`
		DecryptionShare string `json:"decryption_share_hash"`
	} `json:"participants"`
	Local *struct {
		Role  string `json:"role"`
		State string `json:"state"`
	} `json:"local"`
}

func decodeQuery(t *testing.T, s string) aggQueryView {
	t.Helper()
	var q aggQueryView
	if err := json.Unmarshal([]byte(s), &q); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return q
}

func TestAggregateFourDepartments(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDevnet(t, data)
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(d.errb.String(), "\n") {
				if strings.Contains(l, "aggregation") || strings.Contains(l, "query") {
					t.Log(l)
				}
			}
		}
	})
	entries, err := node.LoadNetwork(filepath.Join(data, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	urls := []string{d.url} // node1 serves on the devnet's -http address
	for _, e := range entries[1:] {
		urls = append(urls, "http://"+e.HTTP)
	}
	key := filepath.Join(dir, "ministry.json")
	polity(t, "keys", "new", "--out", key)
	if out := polity(t, "aggregate", "nodes", "--url", urls[2]); !strings.Contains(out, "node3") || !strings.Contains(out, "(this node)") {
		t.Fatalf("aggregate nodes: %s", out)
	}

	// The propose endpoint takes only aggregate.propose, naming nodes.
	s, k := newSigner(t)
	for _, c := range []struct {
		tx   *chain.Tx
		want string
	}{
		{signedPut(t, s, k, "governance", 0, "x"), "aggregate_wrong_method"},
		{signedTx(t, s, k, &chain.Tx{ChainID: "governance", Module: "aggregate", Method: "propose",
			Args: []byte(`{"id":"bad","participants":["0000000000000000000000000000000000000000","1111111111111111111111111111111111111111"],"threshold":2,"vector_len":1,"deadline":100}`)}), "aggregate_unknown_node"},
	} {
		resp, err := http.DefaultClient.Do(d.signedRequest(t, "POST", urls[0]+"/v1/aggregate/queries", txBody(c.tx.Encode())))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), c.want) {
			t.Fatalf("propose %s.%s: %d %s", c.tx.Module, c.tx.Method, resp.StatusCode, raw)
		}
	}
	if _, errOut, code := polityRun("aggregate", "input", "--url", urls[0], "--auth-key", d.opFile, "--id", "no-such-query", "--values", "1"); code != 1 || !strings.Contains(errOut, "not_found") {
		t.Fatalf("input for a missing query: exit %d: %s", code, errOut)
	}

	// Claims per diagnosis code at each of four hospitals' departments.
	const vlen = 4096
	want := make([]uint64, vlen)
	files := make([]string, 4)
	for i := range files {
		vec := make([]string, vlen)
		for j := range vec {
			v := uint64((i+1)*(j%13) + j/512)
			if j == 0 {
				v = he.MaxValue(4) // the largest value allowed: the sum must not wrap
			}
			want[j] += v
			vec[j] = fmt.Sprint(v)
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("dept%d.txt", i+1))
		if err := os.WriteFile(files[i], []byte(strings.Join(vec, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	polity(t, "aggregate", "propose", "--url", urls[0], "--key", key, "--auth-key", d.opFile, "--id", "claims-x",
		"--description", "claims per diagnosis code", "--participants", "node1,node2,node3,node4",
		"--threshold", "3", "--vector-len", fmt.Sprint(vlen), "--aggregator", "node1", "--timeout", "90s")
	for i, u := range urls {
		polity(t, "aggregate", "input", "--url", u, "--auth-key", d.opFile, "--id", "claims-x", "--file", files[i])
	}
	// A second input, or one to a node that is no participant's, is refused.
	if _, errOut, code := polityRun("aggregate", "input", "--url", urls[1], "--auth-key", d.opFile, "--id", "claims-x", "--values", "1"); code == 0 || !strings.Contains(errOut, "aggregate_") {
		t.Fatalf("second input: exit %d: %s", code, errOut)
	}
	q := decodeQuery(t, polity(t, "aggregate", "get", "--url", urls[3], "--id", "claims-x", "--wait", "60s"))
	elapsed := time.Since(start)
	if q.Phase != "done" {
		t.Fatalf("query ended %s: %+v", q.Phase, q)
	}
	if !slices.Equal(q.Result, want) {
		t.Fatalf("result differs from the plaintext sum (first values %v, want %v)", q.Result[:min(8, len(q.Result))], want[:8])
	}
	shares := 0
	for _, p := range q.Participants {
		if !p.Approved || len(p.BoxKey) != 64 || len(p.KeyShare) != 64 || len(p.Contribution) != 64 {
			t.Fatalf("participant record incomplete: %+v", p)
		}
		if p.DecryptionShare != "" {
			shares++
		}
	}
	if shares < 3 {
		t.Fatalf("%d decryption shares recorded, threshold 3", shares)
	}
	t.Logf("4 departments × %d values, threshold 3: proposal to published result in %s", vlen, elapsed.Round(time.Millisecond))

	// Only two departments give input: the query cannot start its key
	// generation, so no key exists that could decrypt anything; at its
	// deadline it is aborted by the nodes, with no result.
	polity(t, "aggregate", "propose", "--url", urls[1], "--key", key, "--auth-key", d.opFile, "--id", "claims-y",
		"--participants", "node1,node2,node3,node4", "--threshold", "3", "--vector-len", "8", "--timeout", "4s")
	for _, u := range urls[:2] {
		polity(t, "aggregate", "input", "--url", u, "--auth-key", d.opFile, "--id", "claims-y", "--values", "1,2,3,4,5,6,7,8")
	}
	q = decodeQuery(t, polity(t, "aggregate", "get", "--url", urls[2], "--id", "claims-y", "--wait", "30s"))
	if q.Phase != "aborted" || q.Result != nil || q.ResultHash != "" {
		t.Fatalf("query with two inputs: %+v", q)
	}
	for i, p := range q.Participants {
		if p.Approved != (i < 2) || p.KeyShare != "" || p.DecryptionShare != "" {
			t.Fatalf("participant %d of the aborted query: %+v", i, p)
		}
	}
	// Past the deadline, input is refused.
	if _, errOut, code := polityRun("aggregate", "input", "--url", urls[3], "--auth-key", d.opFile, "--id", "claims-y", "--values", "1,2,3,4,5,6,7,8"); code == 0 || !strings.Contains(errOut, "aggregate_expired") {
		t.Fatalf("input after abort: exit %d: %s", code, errOut)
	}
}

// A node that restarts after approving has lost its box key and input
// (they live in memory only): it cannot take part, the others cannot finish
// key generation, and the query is aborted at its deadline instead of
// hanging.
func TestAggregateRestartAbortsCleanly(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDevnet(t, data)
	entries, err := node.LoadNetwork(filepath.Join(data, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "ministry.json")
	polity(t, "keys", "new", "--out", key)
	polity(t, "aggregate", "propose", "--url", d.url, "--key", key, "--auth-key", d.opFile, "--id", "r1",
		"--participants", "node1,node2,node3,node4", "--threshold", "3", "--vector-len", "4", "--timeout", "20s")
	polity(t, "aggregate", "input", "--url", d.url, "--auth-key", d.opFile, "--id", "r1", "--values", "1,2,3,4")
	if q := decodeQuery(t, polity(t, "aggregate", "get", "--url", d.url, "--id", "r1")); q.Local == nil || q.Local.State != "approved" {
		t.Fatalf("before restart: %+v", q)
	}
	d.stop(t)
	d = startDevnet(t, data)
	q := decodeQuery(t, polity(t, "aggregate", "get", "--url", d.url, "--id", "r1"))
	if q.Local == nil || q.Local.State != "lost" || !q.Participants[0].Approved {
		t.Fatalf("after restart: %+v", q)
	}
	for _, e := range entries[1:] {
		polity(t, "aggregate", "input", "--url", "http://"+e.HTTP, "--auth-key", d.opFile, "--id", "r1", "--values", "5,6,7,8")
	}
	q = decodeQuery(t, polity(t, "aggregate", "get", "--url", d.url, "--id", "r1", "--wait", "45s"))
	if q.Phase != "aborted" || q.Result != nil {
		t.Fatalf("query with a restarted participant: %+v", q)
	}
	for i, p := range q.Participants {
		if !p.Approved || p.Contribution != "" || (i == 0 && p.KeyShare != "") {
			t.Fatalf("participant %d: %+v", i, p)
		}
	}
}

func signedTx(t *testing.T, s crypto.Suite, k crypto.PrivateKey, tx *chain.Tx) *chain.Tx {
	t.Helper()
	if err := tx.Sign(s, k); err != nil {
		t.Fatal(err)
	}
	return tx
}
