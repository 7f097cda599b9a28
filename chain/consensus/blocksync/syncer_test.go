package blocksync

import (
	crand "crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

// memLedger is a committed chain in memory; Deliver appends the next block.
type memLedger struct {
	mu     sync.Mutex
	vs     *chain.ValidatorSet
	blocks []*chain.Block // blocks[i] is height i+1
	base   uint64         // blocks below are pruned
}

func (l *memLedger) Base() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base
}

func (l *memLedger) NextValidators() (*chain.ValidatorSet, crypto.Hash) {
	return l.vs, l.vs.Hash(ed25519sha256.New())
}

func (l *memLedger) Head() chain.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.blocks) == 0 {
		return chain.Header{}
	}
	return l.blocks[len(l.blocks)-1].Header
}

func (l *memLedger) Block(h uint64) (*chain.Block, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h == 0 || h < l.base || h > uint64(len(l.blocks)) {
		return nil, fmt.Errorf("no block %d", h)
	}
	return l.blocks[h-1], nil
}

func (l *memLedger) Deliver(b *chain.Block) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b.Header.Height != uint64(len(l.blocks))+1 {
		return fmt.Errorf("block %d on height %d", b.Header.Height, len(l.blocks))
	}
	l.blocks = append(l.blocks, b)
	return nil
}

// wire hands each message to the receiving syncer on a goroutine of its
// own, as a transport would; mutate, if set, rewrites messages in flight.
type wire struct {
	nodes  map[uint64]*Syncer
	mutate func(from, to uint64, msg []byte) []byte
}

type port struct {
	w    *wire
	self uint64
}

func (p port) Send(to uint64, msg []byte) {
	if p.w.mutate != nil {
		msg = p.w.mutate(p.self, to, append([]byte(nil), msg...))
	}
	s := p.w.nodes[to]
	go func() {
		switch msg[0] {
		case kindAsk:
			s.Serve(p.self, msg[1:])
		case kindGive:
			s.Receive(p.self, msg[1:])
		}
	}()
}

type fixture struct {
	suite   crypto.Suite
	vs      chain.ValidatorSet
	keys    []crypto.PrivateKey
	ledgers []*memLedger
	syncers []*Syncer
	wire    *wire
}

// newFixture makes n validators; node 1's ledger holds height blocks, each
// certified by all validators, the others are empty.
func newFixture(t *testing.T, n, height int) *fixture {
	s := ed25519sha256.New()
	f := &fixture{suite: s, wire: &wire{nodes: map[uint64]*Syncer{}}}
	for i := 0; i < n; i++ {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		f.keys = append(f.keys, k)
		f.vs.Validators = append(f.vs.Validators, chain.Validator{ID: fmt.Sprintf("v%d", i+1), PubKey: k.Public().Bytes()})
	}
	for i := 0; i < n; i++ {
		l := &memLedger{vs: &f.vs}
		f.ledgers = append(f.ledgers, l)
		sy := New(Config{Suite: s, Validators: f.vs, Ledger: l, Deliver: l.Deliver, Net: port{f.wire, uint64(i + 1)},
			Self: uint64(i + 1), RequestKind: kindAsk, ResponseKind: kindGive, RoundWait: 5 * time.Second})
		f.syncers = append(f.syncers, sy)
		f.wire.nodes[uint64(i+1)] = sy
	}
	for h := 1; h <= height; h++ {
		b := &chain.Block{Header: chain.Header{ChainID: "health", Height: uint64(h), Time: uint64(1000 + h), Proposer: "v1",
			ValidatorsHash: f.vs.Hash(s)}}
		hh := b.Header.Hash(s)
		for i, k := range f.keys {
			sig, err := k.Sign(chain.SignedMessage("health", uint64(h), hh, nil))
			if err != nil {
				t.Fatal(err)
			}
			b.Commit.Sigs = append(b.Commit.Sigs, chain.CommitSig{Index: uint32(i), Sig: sig})
		}
		if err := f.ledgers[0].Deliver(b); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestRoundCatchesUp: a node behind fetches everything a peer has, a
// response at a time (MaxBlocks each), and then learns it is level.
func TestRoundCatchesUp(t *testing.T) {
	total := MaxBlocks + 10
	f := newFixture(t, 4, total)
	progress, top := f.syncers[3].Round(uint64(total))
	if !progress || top != uint64(total) || f.ledgers[3].Head().Height != MaxBlocks {
		t.Fatalf("first round: progress %v, peer head %d, height %d", progress, top, f.ledgers[3].Head().Height)
	}
	if progress, _ = f.syncers[3].Round(uint64(total)); !progress || f.ledgers[3].Head().Height != uint64(total) {
		t.Fatalf("second round: progress %v, height %d", progress, f.ledgers[3].Head().Height)
	}
	if progress, top = f.syncers[3].Round(0); progress || top != uint64(total) {
		t.Fatalf("level: progress %v, peer head %d", progress, top)
	}
	if n := f.syncers[3].Fetched(); n != uint64(total) {
		t.Fatalf("fetched %d", n)
	}
	for h := uint64(1); h <= uint64(total); h++ {
		a, _ := f.ledgers[0].Block(h)
		b, _ := f.ledgers[3].Block(h)
		if a.Header.Hash(f.suite) != b.Header.Hash(f.suite) {
			t.Fatalf("block %d differs", h)
		}
	}
}

// TestRoundRefusesBadCertificates: a peer that weakens certificates below
// a quorum, or serves a block the validators never signed, gets nothing
// committed.
func TestRoundRefusesBadCertificates(t *testing.T) {
	for name, tamper := range map[string]func(b *chain.Block){
		"below quorum":   func(b *chain.Block) { b.Commit.Sigs = b.Commit.Sigs[:2] },
		"other header":   func(b *chain.Block) { b.Header.Time++ },
		"forged signers": func(b *chain.Block) { b.Commit.Sigs[0].Sig = b.Commit.Sigs[1].Sig },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, 4, 3)
			f.wire.mutate = func(from, to uint64, msg []byte) []byte {
				if msg[0] != kindGive {
					return msg
				}
				p, err := decodeResponse(msg[1:])
				if err != nil {
					t.Error(err)
					return msg
				}
				for _, b := range p.blocks {
					tamper(b)
				}
				return encodeResponse(kindGive, p.id, p.head, p.base, encodeBlocks(p.blocks))
			}
			if progress, top := f.syncers[1].Round(0); progress || top != 3 || f.ledgers[1].Head().Height != 0 {
				t.Fatalf("progress %v, peer head %d, height %d", progress, top, f.ledgers[1].Head().Height)
			}
		})
	}
}

// TestRoundIgnoresStrayResponses: responses to another round, malformed
// ones and unsolicited ones change nothing.
func TestRoundIgnoresStrayResponses(t *testing.T) {
	f := newFixture(t, 2, 2)
	blocks := []*chain.Block{}
	for h := uint64(1); h <= 2; h++ {
		b, _ := f.ledgers[0].Block(h)
		blocks = append(blocks, b)
	}
	s := f.syncers[1]
	s.Receive(1, encodeResponse(kindGive, 1, 2, 0, encodeBlocks(blocks))[1:]) // no round waiting
	s.Receive(1, []byte{0xff})
	f.wire.mutate = func(from, to uint64, msg []byte) []byte {
		if msg[0] == kindGive {
			return encodeResponse(kindGive, 99, 2, 0, encodeBlocks(blocks)) // wrong round
		}
		return msg
	}
	s.cfg.RoundWait = 200 * time.Millisecond
	if progress, top := s.Round(0); progress || top != 0 || f.ledgers[1].Head().Height != 0 {
		t.Fatalf("progress %v, peer head %d, height %d", progress, top, f.ledgers[1].Head().Height)
	}
}

// TestRoundPrunedPeer: a peer that pruned below the asker's next height
// sends no blocks, only its head and base, which the round reports; an
// asker at or above the base is served.
func TestRoundPrunedPeer(t *testing.T) {
	f := newFixture(t, 2, 10)
	f.ledgers[0].base = 6
	if progress, top := f.syncers[1].Round(0); progress || top != 10 {
		t.Fatalf("below the base: progress %v, peer head %d", progress, top)
	}
	if got := f.syncers[1].LastRound(); len(got) != 1 || got[0] != (PeerHead{Node: 1, Head: 10, Base: 6}) {
		t.Fatalf("last round %+v", got)
	}
	// The asker at 5 (as if restored there) needs 6, the base.
	for h := uint64(1); h <= 5; h++ {
		f.ledgers[1].blocks = append(f.ledgers[1].blocks, f.ledgers[0].blocks[h-1])
	}
	if progress, _ := f.syncers[1].Round(0); !progress || f.ledgers[1].Head().Height != 10 {
		t.Fatalf("at the base: height %d", f.ledgers[1].Head().Height)
	}
}

// TestServeMax: a request's max bounds the blocks served; 0 asks for the
// head and base only.
func TestServeMax(t *testing.T) {
	f := newFixture(t, 2, 10)
	got := make(chan response, 1)
	f.wire.nodes[2] = New(Config{Suite: f.suite, Validators: f.vs, Ledger: f.ledgers[1], Net: port{f.wire, 2}, Self: 2,
		RequestKind: kindAsk, ResponseKind: kindGive})
	for _, max := range []uint64{0, 3, MaxBlocks} {
		f.wire.mutate = func(from, to uint64, msg []byte) []byte {
			if msg[0] == kindGive {
				p, err := decodeResponse(msg[1:])
				if err != nil {
					t.Error(err)
				}
				got <- p
			}
			return msg
		}
		f.syncers[0].Serve(2, encodeRequest(kindAsk, request{id: 1, from: 2, max: max})[1:])
		p := <-got
		if want := min(max, 9); uint64(len(p.blocks)) != want || p.head != 10 {
			t.Fatalf("max %d: %d blocks, head %d", max, len(p.blocks), p.head)
		}
	}
}

// TestProbe: a probe learns peers' heads and bases and fetches nothing.
func TestProbe(t *testing.T) {
	f := newFixture(t, 3, 10)
	f.ledgers[0].base = 4
	got := f.syncers[2].Probe()
	if len(got) != 2 || got[0] != (PeerHead{Node: 1, Head: 10, Base: 4}) || got[1] != (PeerHead{Node: 2}) {
		t.Fatalf("probe %+v", got)
	}
	if f.ledgers[2].Head().Height != 0 || f.syncers[2].Fetched() != 0 {
		t.Fatal("a probe fetched blocks")
	}
}

func TestPrunedPast(t *testing.T) {
	for _, c := range []struct {
		name  string
		peers []PeerHead
		want  []uint64
	}{
		{"no peers", nil, nil},
		{"none ahead", []PeerHead{{Node: 1, Head: 10, Base: 9}}, nil},
		{"one ahead still holds the next block", []PeerHead{{Node: 1, Head: 50, Base: 40}, {Node: 2, Head: 50, Base: 11}}, nil},
		{"base 0 keeps every block", []PeerHead{{Node: 1, Head: 50, Base: 0}}, nil},
		{"all ahead pruned past", []PeerHead{{Node: 1, Head: 50, Base: 40}, {Node: 2, Head: 10, Base: 1}, {Node: 3, Head: 60, Base: 12}}, []uint64{1, 3}},
	} {
		if got := PrunedPast(c.peers, 10); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
