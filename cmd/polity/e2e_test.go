package main

// End-to-end tests through the public surface: the polity binary and the
// HTTP API of a devnet it starts.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/services"
)

var polityBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "polity-e2e")
	if err != nil {
		panic(err)
	}
	polityBin = filepath.Join(dir, "polity")
	if out, err := exec.Command("go", "build", "-o", polityBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build polity: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// devnet is a running `polity devnet` process.
type devnet struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	errb *bytes.Buffer
	// operator is the devnet's operator key (DATA/operator.json), a
	// genesis admin: it signs the tests' API writes.
	opSuite crypto.Suite
	opKey   crypto.PrivateKey
	opFile  string
}

var apiLine = regexp.MustCompile(`API on (http://[0-9.:]+)`)

func startDevnet(t *testing.T, data string, extra ...string) *devnet {
	t.Helper()
	args := append([]string{"devnet", "--data", data, "--http", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(polityBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &devnet{cmd: cmd, done: make(chan struct{}), errb: new(bytes.Buffer)}
	cmd.Stderr = &lockedWriter{w: d.errb}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := apiLine.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	go func() { cmd.Wait(); close(d.done) }()
	select {
	case d.url = <-urlc:
	case <-d.done:
		t.Fatalf("devnet exited before serving: %s", d.errb)
	case <-time.After(60 * time.Second):
		d.kill()
		t.Fatalf("devnet did not start within 60s: %s", d.errb)
	}
	t.Cleanup(d.kill)
	d.opFile = filepath.Join(data, node.OperatorKeyFile)
	var err2 error
	if d.opSuite, d.opKey, err2 = keyfile.Load(d.opFile); err2 != nil {
		t.Fatal(err2)
	}
	return d
}

// newSigned builds a JSON write request signed by the operator.
func (d *devnet) newSigned(method, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, services.SignRequest(req, d.opSuite, d.opKey, "")
}

func (d *devnet) signedRequest(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	req, err := d.newSigned(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func (d *devnet) kill() {
	if d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-d.done
}

// stop sends SIGINT and waits for a clean exit.
func (d *devnet) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatal("devnet did not stop within 30s of SIGINT")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("devnet exit code %d: %s", code, d.errb)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// polity runs the CLI and returns stdout, failing the test on a non-zero exit.
func polity(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := polityRun(args...)
	if code != 0 {
		t.Fatalf("polity %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func polityRun(args ...string) (string, string, int) {
	cmd := exec.Command(polityBin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return out.String(), errOut.String(), code
}

type txView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Height uint64 `json:"height"`
	Proof  []byte `json:"proof"`
	Header struct {
		StateRoot string `json:"state_root"`
		Hash      string `json:"hash"`
	} `json:"header"`
	Receipt struct {
		Status string `json:"status"`
	} `json:"receipt"`
}

func decodeTx(t *testing.T, s string) txView {
	t.Helper()
	var v txView
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func TestSendGetVerify(t *testing.T) {
	dir := t.TempDir()
	d := startDevnet(t, filepath.Join(dir, "data"))
	key := filepath.Join(dir, "k.json")
	polity(t, "keys", "new", "--out", key)

	list := polity(t, "chain", "list", "--url", d.url)
	for _, c := range []string{"governance", "identity", "civil-affairs", "education", "health", "justice"} {
		if !strings.Contains(list, c) {
			t.Fatalf("chain list lacks %s:\n%s", c, list)
		}
	}

	// A fresh key's DID holds no role: its signed write is refused.
	send := []string{"tx", "send", "--url", d.url, "--chain", "education", "--key", key,
		"--module", "records", "--method", "put", "--args", `{"id":"student-42","data":"BSc, 2026"}`}
	if out, errOut, code := polityRun(send...); code != 1 || !strings.Contains(errOut, "403") || !strings.Contains(errOut, "forbidden") {
		t.Fatalf("tx send without a role: exit %d\n%s%s", code, out, errOut)
	}
	// The operator (a genesis admin) grants it writer for education's
	// records.put on the identity chain, through the same CLI.
	keyDID := regexp.MustCompile(`did:polity:[0-9a-f]{40}`).FindString(polity(t, "keys", "show", "--key", key))
	grant := fmt.Sprintf(`{"holder":%q,"role":"writer","chain":"education","module":"records","method":"put"}`, keyDID)
	if g := decodeTx(t, polity(t, "tx", "send", "--url", d.url, "--chain", "identity", "--key", d.opFile,
		"--module", "roles", "--method", "grant", "--args", grant)); g.Receipt.Status != "ok" {
		t.Fatalf("grant: %+v", g)
	}
	sent := decodeTx(t, polity(t, send...))
	if sent.Status != "committed" || sent.Receipt.Status != "ok" || sent.Height == 0 {
		t.Fatalf("tx send: %+v", sent)
	}
	proofFile := filepath.Join(dir, "p.bin")
	got := decodeTx(t, polity(t, "tx", "get", "--url", d.url, "--chain", "education", "--id", sent.ID, "--proof", proofFile))
	if got.ID != sent.ID || got.Height != sent.Height {
		t.Fatalf("tx get %+v, sent %+v", got, sent)
	}
	d.kill() // verification needs no node
	out := polity(t, "proof", "verify", proofFile)
	if !strings.Contains(out, "OK") || !strings.Contains(out, sent.ID) {
		t.Fatalf("proof verify: %s", out)
	}

	// Any changed byte of the proof, header included, is refused.
	orig, err := os.ReadFile(proofFile)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.bin")
	for i := range orig {
		mut := bytes.Clone(orig)
		mut[i] ^= 0x01
		if err := os.WriteFile(bad, mut, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, _, code := polityRun("proof", "verify", bad); code == 0 {
			t.Fatalf("byte %d flipped: proof still verifies:\n%s", i, out)
		}
	}
}

// post submits a raw body to the transactions endpoint, signed by the
// operator, and returns the status and decoded problem code.
func post(t *testing.T, d *devnet, chainID string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(d.signedRequest(t, "POST", d.url+"/v1/chains/"+chainID+"/transactions", body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Code string `json:"code"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("error with content type %q: %s", ct, raw)
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.Code == "" {
			t.Fatalf("error body is not a problem: %s", raw)
		}
	}
	return resp.StatusCode, p.Code
}

func txBody(enc []byte) []byte {
	b, _ := json.Marshal(map[string]string{"tx": base64.StdEncoding.EncodeToString(enc)})
	return b
}

func TestBench(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDevnet(t, data)
	// Point node1's entry at the API this devnet actually serves.
	entries, err := os.ReadFile(filepath.Join(data, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	var net []map[string]string
	if err := json.Unmarshal(entries, &net); err != nil {
		t.Fatal(err)
	}
	net[0]["http"] = strings.TrimPrefix(d.url, "http://")
	b, _ := json.Marshal(net)
	netFile := filepath.Join(dir, "net.json")
	if err := os.WriteFile(netFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Single submits and batches of both sizes; transactions signed ahead
	// (more than a short run sends, or fewer, so that signing goes on as
	// it sends) must commit in nonce order like the others.
	for _, c := range []struct{ w, batch, presign string }{{"transfer", "64", "0"}, {"hotspot", "1", "0"}, {"record", "8", "0"},
		{"transfer", "64", "100000"}, {"record", "16", "203"}} {
		prof := filepath.Join(dir, "bench-"+c.w+"-"+c.presign+".pprof")
		out := polity(t, "bench", "--network", netFile, "--operator", d.opFile, "--auth-key", d.opFile, "--workload", c.w,
			"--duration", "2s", "--senders", "8", "--inflight", "16", "--batch", c.batch, "--presign", c.presign, "--json", "--cpuprofile", prof)
		var res struct {
			Submitted, Committed, Rejected, Failed, Presigned int64
			CommittedTPS                                      float64 `json:"committed_tps"`
			P99                                               float64 `json:"p99_ms"`
			Agree                                             bool
			Nodes, Batch                                      int
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: bench output %q: %v", c.w, out, err)
		}
		wantSigned := map[string]int64{"0": 0, "100000": 100000, "203": 208}[c.presign] // whole rounds of 8 senders
		if res.Nodes != 4 || res.Committed == 0 || res.Committed != res.Submitted || res.Rejected != 0 || res.Failed != 0 || !res.Agree || res.P99 <= 0 ||
			fmt.Sprint(res.Batch) != c.batch || res.Presigned != wantSigned {
			t.Fatalf("%s, presign %s: bench result %+v", c.w, c.presign, res)
		}
		if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
			t.Fatalf("%s: -cpuprofile wrote no profile: %v", c.w, err)
		}
	}
	// Without a minter key the transfer workloads cannot fund their senders.
	if _, errOut, code := polityRun("bench", "--network", netFile, "--operator", filepath.Join(dir, "none.json"), "--auth-key", d.opFile, "--duration", "1s"); code == 0 || !strings.Contains(errOut, "minter key") {
		t.Fatalf("bench without a minter key: exit %d, %q", code, errOut)
	}
}

// TestRaftChain runs a devnet whose health chain is ordered by Raft: a
// transaction commits, and its proof verifies offline under the majority
// quorum its validator set (and so its trusted hash) declares.
func TestRaftChain(t *testing.T) {
	dir := t.TempDir()
	d := startDevnet(t, filepath.Join(dir, "data"), "--cft", "health")
	var cd struct {
		Consensus string         `json:"consensus"`
		Genesis   map[string]any `json:"genesis"`
	}
	if _, err := newClient(d.url).do(t.Context(), "GET", "/v1/chains/health", nil, &cd); err != nil {
		t.Fatal(err)
	}
	vs, _ := cd.Genesis["validator_set"].(map[string]any)
	if cd.Genesis["consensus"] != "raft" || vs["crash_fault_only"] != true {
		t.Fatalf("health genesis: consensus %v, validator set %v", cd.Genesis["consensus"], vs)
	}
	sent := decodeTx(t, polity(t, "tx", "send", "--url", d.url, "--chain", "health", "--key", d.opFile,
		"--module", "records", "--method", "put", "--args", `{"id":"claim-1","data":"J45"}`))
	if sent.Status != "committed" || sent.Receipt.Status != "ok" {
		t.Fatalf("tx send on the raft chain: %+v", sent)
	}
	proofFile := filepath.Join(dir, "p.bin")
	polity(t, "tx", "get", "--url", d.url, "--chain", "health", "--id", sent.ID, "--proof", proofFile)
	d.kill()
	if out := polity(t, "proof", "verify", proofFile); !strings.Contains(out, "OK") {
		t.Fatalf("proof verify: %s", out)
	}
}
