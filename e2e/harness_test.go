//go:build e2e

// Package e2e is Polity's process-level fault-injection suite. Each test
// starts a fresh four-validator network of real `polity node` processes
// whose peer links run through TCP proxies in the test process, injects one
// fault (SIGKILL, SIGSTOP, cut links, a damaged WAL) under load, heals it
// and checks, through the public HTTP API only, that no node forked, no
// acknowledged transaction was lost or duplicated, and commits resumed
// within a stated bound. It runs with `make e2e` (build tag e2e), never in
// `make test`. docs/faults.md describes the fault model and the results.
package e2e

import (
	"bufio"
	"bytes"
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
)

// validators is the network size: n = 3f+1 with f = 1.
const validators = 4

// The chains the load generator writes to and the checker walks.
const (
	loadChain  = "health"
	otherChain = "education"
)

var polityBin string

// cft is set by E2E_CFT=1 (make e2e-raft): the load chain is ordered by
// Raft instead of SmartBFT, and the crash-fault scenarios run against it.
var cft = os.Getenv("E2E_CFT") == "1"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "polity-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	polityBin = filepath.Join(dir, "polity")
	build := exec.Command("go", "build", "-o", polityBin, "github.com/polityledger/polity/cmd/polity")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build polity: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is one network: its node processes and the proxies of its links.
type cluster struct {
	t     *testing.T
	dir   string
	began time.Time
	nodes []*proc
	links map[[2]int]*link // directed: [from, to]
	api   *http.Client     // short requests (heights, blocks, lookups)
	// operator signs write requests (polity init's operator.json, a
	// genesis admin of the identity chain's roles).
	opSuite crypto.Suite
	opKey   crypto.PrivateKey
	// retired are nodes a scenario removed for good (governance took them
	// out of the set and the test stopped them); checks skip them.
	retired map[int]bool
	// unlisted followers are in no other node's peers (node.json): the
	// validators learn them only when governance adds them.
	unlisted bool
}

// proc is one `polity node` process, restartable with the same home.
type proc struct {
	c       *cluster
	idx     int
	id      string
	home    string
	api     string // http://host:port
	p2p     string // the node's own listen address (proxies forward to it)
	logPath string
	// base is, per chain restored from a snapshot, the lowest height whose
	// block this node holds (the checker skips the heights below it).
	base map[string]uint64

	mu       sync.Mutex
	cmd      *exec.Cmd
	starts   int
	running  bool // started and not yet exited
	paused   bool
	expected bool // the last exit was caused by the test
	exits    []string
	done     chan struct{} // closed when the current process has exited
	ready    chan struct{} // closed when it serves its API
	ordering chan struct{} // closed when it reports a known leader
}

type networkEntry struct {
	ID   string `json:"id"`
	Home string `json:"home"`
	P2P  string `json:"p2p"`
	HTTP string `json:"http"`
}

// newCluster initialises a fresh network with `polity init`, routes every
// peer address through a proxy and starts every node, waiting until all of
// them order.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	return newClusterWith(t, 0, false)
}

// newClusterWith is newCluster with follower nodes (polity init
// --followers): they host every chain and validate none. Unlisted, they
// are taken out of the other nodes' peers.
func newClusterWith(t *testing.T, followers int, unlisted bool) *cluster {
	t.Helper()
	return startCluster(t, followers, unlisted)
}

// startCluster is newClusterWith with further `polity init` arguments.
func startCluster(t *testing.T, followers int, unlisted bool, initExtra ...string) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "polity-e2e-"+regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, began: time.Now(), links: map[[2]int]*link{},
		api: &http.Client{Timeout: 3 * time.Second}, retired: map[int]bool{}, unlisted: unlisted}
	t.Cleanup(c.teardown)

	netDir := filepath.Join(dir, "net")
	initArgs := []string{"init", "--validators", fmt.Sprint(validators), "--followers", fmt.Sprint(followers), "--base-port", "0", "--out", netDir}
	if cft {
		initArgs = append(initArgs, "--cft", loadChain)
	}
	initArgs = append(initArgs, initExtra...)
	if out, err := exec.Command(polityBin, initArgs...).CombinedOutput(); err != nil {
		t.Fatalf("polity init: %v\n%s", err, out)
	}
	if c.opSuite, c.opKey, err = keyfile.Load(filepath.Join(netDir, "operator.json")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(netDir, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []networkEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != validators+followers {
		t.Fatalf("network.json lists %d nodes", len(entries))
	}
	taken := map[string]bool{}
	for i, e := range entries {
		c.nodes = append(c.nodes, &proc{c: c, idx: i, id: e.ID, home: e.Home, api: "http://" + e.HTTP, p2p: e.P2P,
			logPath: filepath.Join(dir, e.ID+".log")})
		taken[e.P2P], taken[e.HTTP] = true, true
	}
	for i := range c.nodes {
		for j := range c.nodes {
			if i != j {
				l, err := newLink(i, j, c.nodes[j].p2p, taken)
				if err != nil {
					t.Fatal(err)
				}
				c.links[[2]int{i, j}] = l
			}
		}
	}
	for _, p := range c.nodes {
		if err := c.routePeers(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range c.nodes {
		p.start()
	}
	for _, p := range c.nodes {
		p.waitReady(t, 30*time.Second)
	}
	for _, p := range c.nodes {
		p.waitOrdering(t, 60*time.Second)
	}
	c.logf("network of %d nodes ordering (%s)", validators, dir)
	return c
}

// routePeers rewrites p's node.json so each peer address is the proxy of
// the link p → peer. Unknown fields are kept as they are.
func (c *cluster) routePeers(p *proc) error {
	path := filepath.Join(p.home, "node.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return err
	}
	var peers []map[string]any
	if err := json.Unmarshal(cfg["peers"], &peers); err != nil {
		return err
	}
	listed := peers[:0]
	for _, peer := range peers {
		j := c.index(fmt.Sprint(peer["id"]))
		if j < 0 {
			return fmt.Errorf("%s: unknown peer %v", path, peer["id"])
		}
		if c.unlisted && j >= validators && p.idx < validators {
			continue
		}
		peer["addr"] = c.links[[2]int{p.idx, j}].addr()
		listed = append(listed, peer)
	}
	peers = listed
	if cfg["peers"], err = json.Marshal(peers); err != nil {
		return err
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

func (c *cluster) index(id string) int {
	for i, p := range c.nodes {
		if p.id == id {
			return i
		}
	}
	return -1
}

// logf logs with the time since the cluster started.
func (c *cluster) logf(format string, args ...any) {
	c.t.Helper()
	c.t.Logf("[%6.2fs] %s", time.Since(c.began).Seconds(), fmt.Sprintf(format, args...))
}

// teardown kills every node and closes the proxies. A failed test keeps the
// homes and logs and prints the tail of every node's log.
func (c *cluster) teardown() {
	for _, p := range c.nodes {
		p.kill()
	}
	for _, l := range c.links {
		l.close()
	}
	if !c.t.Failed() {
		if os.Getenv("E2E_KEEP") != "" {
			c.t.Logf("E2E_KEEP: homes and logs kept in %s", c.dir)
			return
		}
		os.RemoveAll(c.dir)
		return
	}
	for _, p := range c.nodes {
		c.t.Logf("---- %s (%d starts; exits %v) log tail, full log %s ----\n%s", p.id, p.starts, p.exits, p.logPath, tail(p.logPath, 40))
	}
	c.t.Logf("homes and logs kept in %s", c.dir)
}

// tail returns the last n lines of a node's log, before any goroutine dump
// (which is left in the file).
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if i := bytes.LastIndex(b, []byte("SIGQUIT: quit")); i >= 0 {
		b = append(b[:i:i], "(goroutine dump follows in the log file)\n"...)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// --- processes ---

// start runs `polity node --home` for p; stdout and stderr go to its log.
func (p *proc) start() {
	t := p.c.t
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		t.Fatalf("%s is already running", p.id)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.starts++
	fmt.Fprintf(f, "==== start #%d at %s ====\n", p.starts, time.Now().Format(time.RFC3339Nano))
	args := []string{"node", "--home", p.home}
	if lv := os.Getenv("E2E_LOG"); lv != "" { // e.g. debug, to reproduce a failure
		args = append(args, "--log", lv)
	}
	cmd := exec.Command(polityBin, args...)
	cmd.Stderr = f
	cmd.SysProcAttr = procAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	p.cmd, p.running, p.paused, p.expected = cmd, true, false, false
	done, ready, ordering := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p.done, p.ready, p.ordering = done, ready, ordering
	go func() {
		defer f.Close()
		sc := bufio.NewScanner(stdout)
		var r, o bool
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(f, "stdout: %s\n", line)
			if !r && strings.Contains(line, "API on http://") {
				r = true
				close(ready)
			}
			if !o && strings.HasSuffix(line, ": ordering") {
				o = true
				close(ordering)
			}
		}
		io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		p.mu.Lock()
		p.running = false
		exit := fmt.Sprintf("#%d: %v", p.starts, err)
		if !p.expected {
			exit += " (unexpected)"
		}
		p.exits = append(p.exits, exit)
		p.mu.Unlock()
		close(done)
	}()
}

func (p *proc) isRunning() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

func (p *proc) isPaused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

func (p *proc) chans() (done, ready, ordering chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done, p.ready, p.ordering
}

// waitReady waits until p serves its API.
func (p *proc) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	done, ready, _ := p.chans()
	select {
	case <-ready:
	case <-done:
		t.Fatalf("%s exited before serving its API:\n%s", p.id, tail(p.logPath, 30))
	case <-time.After(timeout):
		t.Fatalf("%s did not serve its API within %v:\n%s", p.id, timeout, tail(p.logPath, 30))
	}
}

// waitOrdering waits until p reports that every chain knows a leader.
func (p *proc) waitOrdering(t *testing.T, timeout time.Duration) {
	t.Helper()
	done, _, ordering := p.chans()
	select {
	case <-ordering:
	case <-done:
		t.Fatalf("%s exited before ordering:\n%s", p.id, tail(p.logPath, 30))
	case <-time.After(timeout):
		t.Fatalf("%s did not order within %v:\n%s", p.id, timeout, tail(p.logPath, 30))
	}
}

// kill SIGKILLs p (also when paused) and waits for it to exit.
func (p *proc) kill() {
	p.mu.Lock()
	if !p.running {
		p.mu.Unlock()
		return
	}
	p.expected = true
	p.paused = false
	p.cmd.Process.Signal(syscall.SIGKILL)
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.c.t.Errorf("%s did not exit within 10s of SIGKILL", p.id)
	}
}

// dumpStacks sends SIGQUIT, so the Go runtime writes every goroutine's
// stack to p's log and exits: evidence for a node that hangs.
func (p *proc) dumpStacks() {
	p.mu.Lock()
	if !p.running {
		p.mu.Unlock()
		return
	}
	p.expected = true
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.cmd.Process.Signal(syscall.SIGQUIT)
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// pause sends SIGSTOP; resume sends SIGCONT.
func (p *proc) pause() { p.signal(syscall.SIGSTOP, true) }

func (p *proc) resume() { p.signal(syscall.SIGCONT, false) }

func (p *proc) signal(sig syscall.Signal, paused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		p.c.t.Fatalf("%s: %v to a process that is not running", p.id, sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.c.t.Fatalf("%s: %v: %v", p.id, sig, err)
	}
	p.paused = paused
}

// kill, restart and the like, by node index, with a timeline entry.
func (c *cluster) kill(i int) {
	c.t.Helper()
	h, err := c.height(i, loadChain)
	c.nodes[i].kill()
	if err != nil {
		c.logf("SIGKILL %s", c.nodes[i].id)
		return
	}
	c.logf("SIGKILL %s at %s height %d", c.nodes[i].id, loadChain, h)
}

func (c *cluster) restart(i int) {
	c.t.Helper()
	c.nodes[i].start()
	c.logf("restarted %s", c.nodes[i].id)
}
