package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

func newSigner(t *testing.T) (crypto.Suite, crypto.PrivateKey) {
	t.Helper()
	s := ed25519sha256.New()
	k, err := s.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func signedPut(t *testing.T, s crypto.Suite, k crypto.PrivateKey, chainID string, nonce uint64, id string) *chain.Tx {
	t.Helper()
	tx := &chain.Tx{ChainID: chainID, Nonce: nonce, Module: "records", Method: "put",
		Args: []byte(fmt.Sprintf(`{"id":%q,"data":"payload %d"}`, id, nonce))}
	if err := tx.Sign(s, k); err != nil {
		t.Fatal(err)
	}
	return tx
}

type committed struct {
	id, chain  string
	height     uint64
	headerHash string
}

// submitWait posts tx with wait and returns the committed view (ok=false if
// the request failed, e.g. because the node was killed).
func submitWait(d *devnet, tx *chain.Tx) (txView, bool) {
	req, err := d.newSigned("POST", d.url+"/v1/chains/"+tx.ChainID+"/transactions?wait=10", txBody(tx.Encode()))
	if err != nil {
		return txView{}, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return txView{}, false
	}
	defer resp.Body.Close()
	var v txView
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil || v.Status != "committed" {
		return txView{}, false
	}
	return v, true
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestKillDuringCommit SIGKILLs the devnet under load and restarts it: every
// transaction acknowledged as committed before the kill is in the same block
// with the same header (so the same state root), and heights continue.
func TestKillDuringCommit(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	d := startDevnet(t, data)
	chains := []string{"health", "justice"}
	var (
		mu    sync.Mutex
		acked []committed
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := 0; w < 8; w++ {
		s, k := newSigner(t)
		chainID := chains[w%len(chains)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := uint64(0); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				v, ok := submitWait(d, signedPut(t, s, k, chainID, n, fmt.Sprintf("w%d-%d", w, n)))
				if !ok {
					return
				}
				mu.Lock()
				acked = append(acked, committed{v.ID, chainID, v.Height, v.Header.Hash})
				mu.Unlock()
			}
		}()
	}
	// Let blocks commit, then kill without warning while commits are in flight.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no transaction committed before the kill: %s", d.errb)
	}

	d2 := startDevnet(t, data)
	maxHeight := map[string]uint64{}
	for _, c := range acked {
		var v txView
		if code := getJSON(t, d2.url+"/v1/chains/"+c.chain+"/transactions/"+c.id, &v); code != http.StatusOK || v.Status != "committed" {
			t.Fatalf("acknowledged tx %s lost after kill -9 (status %d %q)", c.id, code, v.Status)
		}
		if v.Height != c.height || v.Header.Hash != c.headerHash {
			t.Fatalf("tx %s: block %d %s before kill, %d %s after", c.id, c.height, c.headerHash, v.Height, v.Header.Hash)
		}
		maxHeight[c.chain] = max(maxHeight[c.chain], c.height)
	}
	s, k := newSigner(t)
	for _, chainID := range chains {
		// After a cold restart SmartBFT may need a view change (10 s) before
		// it orders again (docs/faults.md): wait for the commit up to 60 s.
		tx := signedPut(t, s, k, chainID, 0, "after-restart")
		v, ok := submitWait(d2, tx)
		for deadline := time.Now().Add(60 * time.Second); !ok && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			code := getJSON(t, d2.url+"/v1/chains/"+chainID+"/transactions/"+tx.ID(s).String(), &v)
			ok = code == http.StatusOK && v.Status == "committed"
		}
		if !ok || v.Height <= maxHeight[chainID] {
			t.Fatalf("%s: commit after restart at height %d, acknowledged up to %d (ok=%v)", chainID, v.Height, maxHeight[chainID], ok)
		}
	}
	t.Logf("%d acknowledged transactions survived kill -9; heights %v", len(acked), maxHeight)
	d2.stop(t)
}

// TestRejections: malformed, oversize, wrong-chain, replayed and badly signed
// transactions get a problem-details error and never reach a block.
func TestRejections(t *testing.T) {
	d := startDevnet(t, filepath.Join(t.TempDir(), "data"))
	s, k := newSigner(t)
	good := signedPut(t, s, k, "health", 0, "ok")
	if _, ok := submitWait(d, good); !ok {
		t.Fatal("valid transaction not committed")
	}

	badSig := signedPut(t, s, k, "health", 1, "badsig")
	badSig.Sig[0] ^= 1
	otherKey := signedPut(t, s, k, "health", 1, "wrongkey")
	_, k2 := newSigner(t)
	otherKey.PubKey = k2.Public().Bytes() // signature no longer matches the key
	replayNonce := signedPut(t, s, k, "health", 0, "replay-nonce")
	wrongChain := signedPut(t, s, k, "education", 1, "wrong-chain")
	bigArgs := &chain.Tx{ChainID: "health", Nonce: 1, Module: "records", Method: "put", Args: bytes.Repeat([]byte("x"), chain.MaxArgsLen+1)}
	bigArgs.Sign(s, k)
	unknownModule := &chain.Tx{ChainID: "health", Nonce: 1, Module: "nosuch", Method: "put", Args: []byte("{}")}
	unknownModule.Sign(s, k)
	expired := signedPut(t, s, k, "health", 1, "expired")
	expired.Expiry = 1
	expired.Sign(s, k)

	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"not json", []byte("{"), 400, "bad_request"},
		{"unknown field", []byte(`{"tx":"AAAA","extra":1}`), 400, "bad_request"},
		{"not base64", []byte(`{"tx":"%%%"}`), 400, "bad_request"},
		{"garbage tx", txBody([]byte{1, 2, 3}), 400, "malformed_transaction"},
		{"trailing byte", txBody(append(signedPut(t, s, k, "health", 1, "t").Encode(), 0)), 400, "malformed_transaction"},
		{"oversize body", txBody(make([]byte, 300<<10)), 413, "payload_too_large"},
		{"oversize args", txBody(bigArgs.Encode()), 400, "malformed_transaction"},
		{"wrong chain", txBody(wrongChain.Encode()), 400, "wrong_chain"},
		{"replayed tx", txBody(good.Encode()), 409, "replayed"},
		{"replayed nonce", txBody(replayNonce.Encode()), 409, "replayed"},
		{"bad signature", txBody(badSig.Encode()), 401, "bad_signature"},
		{"key does not match sender", txBody(otherKey.Encode()), 401, "bad_signature"},
		{"unknown module", txBody(unknownModule.Encode()), 400, "unknown_module"},
		{"expired", txBody(expired.Encode()), 400, "expired"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			status, code := post(t, d, "health", c.body)
			if status != c.status || code != c.code {
				t.Fatalf("got %d %q, want %d %q", status, code, c.status, c.code)
			}
		})
	}
	// A later valid transaction commits; the rejected ones are in no block.
	next := signedPut(t, s, k, "health", 1, "next")
	v, ok := submitWait(d, next)
	if !ok {
		t.Fatal("valid transaction after rejections not committed")
	}
	for h := uint64(1); h <= v.Height; h++ {
		var b struct {
			Transactions []struct {
				ID string `json:"id"`
			} `json:"transactions"`
		}
		if code := getJSON(t, fmt.Sprintf("%s/v1/chains/health/blocks/%d", d.url, h), &b); code != 200 {
			t.Fatalf("block %d: %d", h, code)
		}
		for _, tx := range b.Transactions {
			if tx.ID != good.ID(s).String() && tx.ID != next.ID(s).String() {
				t.Fatalf("block %d holds unexpected transaction %s", h, tx.ID)
			}
		}
	}
	for _, tx := range []*chain.Tx{badSig, replayNonce, wrongChain, expired} {
		if code := getJSON(t, d.url+"/v1/chains/health/transactions/"+tx.ID(s).String(), nil); code != http.StatusNotFound {
			t.Fatalf("rejected tx %s: GET status %d, want 404", tx.ID(s), code)
		}
	}
}
