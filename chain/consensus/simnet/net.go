// Package simnet is the test harness the consensus engines share: a seeded
// in-process network with loss, delay, partitions and Byzantine rewriting
// (after SmartBFT's test/network.go), a cluster of validators each with its
// own ledger and engine on that network, a client that signs transactions,
// the safety checker every fault test ends with, and the throughput
// benchmark. It is imported only by tests (internal/lint enforces it).
package simnet

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/consensus"
)

// inboxSize bounds each node's queue; a full inbox drops, like a slow peer
// on a real link.
const inboxSize = 10000

// Mutator rewrites a message in flight (a Byzantine sender, a deaf node):
// it returns the bytes to deliver, nil to drop. It runs under the network's
// lock and may draw from rng, the network's seeded source.
type Mutator func(rng *rand.Rand, from, to uint64, data []byte) []byte

// Net is an in-process consensus.Network with seeded faults. Each node has
// a bounded inbox drained by one goroutine, so a node handles its messages
// in order, one at a time, as over a real connection. Safe for concurrent
// use.
type Net struct {
	mu        sync.Mutex
	rng       *rand.Rand
	loss      float64
	delay     time.Duration
	mutate    Mutator
	cut       map[[2]uint64]bool // directed links that drop everything
	inboxes   map[uint64]chan msg
	receivers map[uint64]consensus.Receiver
}

type msg struct {
	from uint64
	data []byte
}

// New returns a network whose random faults all come from seed.
func New(seed uint64) *Net {
	return &Net{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cut: map[[2]uint64]bool{},
		inboxes: map[uint64]chan msg{}, receivers: map[uint64]consensus.Receiver{}}
}

// Attach delivers node id's messages to r from now on.
func (n *Net) Attach(id uint64, r consensus.Receiver) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.receivers[id] = r
	if n.inboxes[id] == nil {
		in := make(chan msg, inboxSize)
		n.inboxes[id] = in
		go func() {
			for m := range in {
				n.mu.Lock()
				r := n.receivers[id]
				n.mu.Unlock()
				if r != nil {
					r.Receive(m.from, m.data)
				}
			}
		}()
	}
}

// Detach drops node id's messages from now on (a crashed node).
func (n *Net) Detach(id uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.receivers[id] = nil
}

// Split cuts every link between the two sides, both ways (heal with on =
// false).
func (n *Net) Split(a, b []uint64, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			n.cut[[2]uint64{x, y}] = on
			n.cut[[2]uint64{y, x}] = on
		}
	}
}

// SetFaults drops each message with probability loss and delays the others
// by a uniform random time below delay.
func (n *Net) SetFaults(loss float64, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loss, n.delay = loss, delay
}

// SetMutate rewrites every message not dropped with m (nil: none).
func (n *Net) SetMutate(m Mutator) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mutate = m
}

// Endpoint is node self's consensus.Network.
func (n *Net) Endpoint(self uint64) consensus.Network { return endpoint{n, self} }

func (n *Net) send(from, to uint64, data []byte) {
	n.mu.Lock()
	drop := n.cut[[2]uint64{from, to}] || (n.loss > 0 && n.rng.Float64() < n.loss)
	var d time.Duration
	if n.delay > 0 {
		d = time.Duration(n.rng.Int64N(int64(n.delay)))
	}
	m := msg{from, append([]byte(nil), data...)}
	if n.mutate != nil && !drop {
		m.data = n.mutate(n.rng, from, to, m.data)
	}
	in := n.inboxes[to]
	n.mu.Unlock()
	if drop || in == nil || m.data == nil {
		return
	}
	if d > 0 {
		time.AfterFunc(d, func() { trySend(in, m) })
		return
	}
	trySend(in, m)
}

func trySend(in chan msg, m msg) {
	select {
	case in <- m:
	default: // a full inbox drops, like a slow peer on a real link
	}
}

type endpoint struct {
	net  *Net
	self uint64
}

func (e endpoint) Send(to uint64, msg []byte) { e.net.send(e.self, to, msg) }

// Seed returns the value of the environment variable env if set, else def;
// it logs the seed so a failure can be replayed.
func Seed(t testing.TB, env string, def uint64) uint64 {
	t.Helper()
	if s := os.Getenv(env); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		def = v
	}
	t.Logf("simulated network seed %d (replay with %s=%d)", def, env, def)
	return def
}
