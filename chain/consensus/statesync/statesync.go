// Package statesync moves a chain's state snapshot between the nodes of
// the chain over its consensus.Network, for a node whose peers have pruned
// the blocks it lacks. The snapshot stream (replica.WriteSnapshot) travels
// in chunks the receiver asks for one at a time, so a lost message costs
// one retry and a server holds at most one chunk per session in memory.
// The receiver trusts none of it: it hands the stream to a restore that
// verifies every byte against its own genesis (replica.StateSync).
package statesync

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/polityledger/polity/chain/consensus"
)

// Defaults and bounds.
const (
	// MaxSessions bounds the snapshots a node serves at once.
	MaxSessions = 4
	// MaxSnapshotBytes bounds one fetched snapshot stream.
	MaxSnapshotBytes = 64 << 30
	// DefaultChunkWait is how long a fetch waits for a chunk before asking
	// again; DefaultTries how often it asks before giving up on the peer.
	DefaultChunkWait = 5 * time.Second
	DefaultTries     = 3
	// DefaultIdle ends a served session no ask came for.
	DefaultIdle = 30 * time.Second
	// DefaultMaxTime bounds one transfer, served or fetched: a peer that
	// trickles chunks cannot hold a session (and the Pebble snapshot
	// behind it) or a fetching node for longer.
	DefaultMaxTime = 15 * time.Minute
)

// Errors from Fetch.
var (
	ErrBusy   = errors.New("statesync: peer serves no snapshot now")
	ErrSilent = errors.New("statesync: peer stopped sending")
	ErrLarge  = errors.New("statesync: snapshot stream too large")
)

// Config of a Transfer.
type Config struct {
	Net consensus.Network
	// AskKind and ChunkKind are the first bytes of the two messages on
	// the chain's stream; the owner routes them to Serve and Receive.
	AskKind, ChunkKind byte
	// Write writes this node's snapshot (at its head) for a peer.
	Write     func(w io.Writer) (height uint64, err error)
	ChunkWait time.Duration // DefaultChunkWait if 0
	Tries     int           // DefaultTries if 0
	Idle      time.Duration // DefaultIdle if 0
	MaxTime   time.Duration // DefaultMaxTime if 0
	Logger    *slog.Logger
}

// Transfer serves this node's snapshots to peers and fetches peers'.
// Serve and Receive are safe for concurrent use; one Fetch runs at a time.
type Transfer struct {
	cfg     Config
	fetchMu sync.Mutex
	mu      struct {
		sync.Mutex
		sessions map[sessionKey]*session
		want     *fetching
	}
}

type sessionKey struct{ peer, id uint64 }

type session struct {
	asks chan uint64
	stop chan struct{} // closed when the peer began another session
}

type fetching struct {
	peer, id uint64
	ch       chan chunk
}

// New returns a Transfer; the configuration is trusted.
func New(cfg Config) *Transfer {
	if cfg.ChunkWait <= 0 {
		cfg.ChunkWait = DefaultChunkWait
	}
	if cfg.Tries <= 0 {
		cfg.Tries = DefaultTries
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.MaxTime <= 0 {
		cfg.MaxTime = DefaultMaxTime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Transfer{cfg: cfg}
	t.mu.sessions = make(map[sessionKey]*session)
	return t
}

// Serve answers a peer's ask (its body, after the kind byte) without
// blocking: the session's goroutine sends the chunk. Malformed asks are
// ignored; asks beyond MaxSessions are refused. A peer has one session at
// a time: a new one ends its previous one.
func (t *Transfer) Serve(from uint64, body []byte) {
	a, err := decodeAsk(body)
	if err != nil {
		return
	}
	k := sessionKey{from, a.id}
	t.mu.Lock()
	s, ok := t.mu.sessions[k]
	if !ok && a.offset == 0 {
		for k, old := range t.mu.sessions {
			if k.peer == from {
				close(old.stop)
				delete(t.mu.sessions, k)
			}
		}
	}
	if !ok {
		if a.offset != 0 || len(t.mu.sessions) >= MaxSessions || t.cfg.Write == nil {
			t.mu.Unlock()
			t.cfg.Net.Send(from, encodeChunk(t.cfg.ChunkKind, chunk{id: a.id, offset: a.offset, flag: flagBusy}))
			return
		}
		s = &session{asks: make(chan uint64, 1), stop: make(chan struct{})}
		t.mu.sessions[k] = s
		go t.run(k, s)
	}
	t.mu.Unlock()
	select {
	case s.asks <- a.offset:
	default: // the session is busy with the previous ask; the peer asks again
	}
}

// errSessionOver stops a session's snapshot writer.
var errSessionOver = errors.New("snapshot session over")

// run serves one session: the snapshot is written into a pipe as the peer
// asks for it, the current chunk kept for a repeated ask.
func (t *Transfer) run(k sessionKey, s *session) {
	pr, pw := io.Pipe()
	go func() {
		h, err := t.cfg.Write(pw)
		if err == nil {
			t.cfg.Logger.Info("state snapshot sent", "peer", k.peer, "height", h)
		}
		pw.CloseWithError(err)
	}()
	defer func() {
		pr.CloseWithError(errSessionOver)
		t.mu.Lock()
		if t.mu.sessions[k] == s {
			delete(t.mu.sessions, k)
		}
		t.mu.Unlock()
	}()
	deadline := time.NewTimer(t.cfg.MaxTime)
	defer deadline.Stop()
	var cur chunk
	next, sent := uint64(0), false
	buf := make([]byte, ChunkSize)
	idle := time.NewTimer(t.cfg.Idle)
	defer idle.Stop()
	for {
		select {
		case <-idle.C:
			return
		case <-s.stop:
			return
		case <-deadline.C:
			t.cfg.Logger.Warn("state snapshot session took too long: ended", "peer", k.peer, "max", t.cfg.MaxTime)
			return
		case off := <-s.asks:
			done := sent && cur.flag == flagLast
			switch {
			case sent && off == cur.offset:
			case done && off > next:
				return // the peer has it all
			case off == next && !done:
				n, err := io.ReadFull(pr, buf)
				flag := flagMore
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					flag = flagLast
				} else if err != nil {
					t.cfg.Logger.Warn("state snapshot for a peer failed", "peer", k.peer, "err", err)
					t.cfg.Net.Send(k.peer, encodeChunk(t.cfg.ChunkKind, chunk{id: k.id, offset: off, flag: flagBusy}))
					return
				}
				cur = chunk{id: k.id, offset: next, flag: flag, data: append([]byte(nil), buf[:n]...)}
				next += uint64(n)
				sent = true
			default:
				continue
			}
			t.cfg.Net.Send(k.peer, encodeChunk(t.cfg.ChunkKind, cur))
			idle.Reset(t.cfg.Idle)
		}
	}
}

// Receive routes a peer's chunk (its body, after the kind byte) to the
// fetch waiting for it; others are dropped.
func (t *Transfer) Receive(from uint64, body []byte) {
	c, err := decodeChunk(body)
	if err != nil {
		return
	}
	t.mu.Lock()
	f := t.mu.want
	t.mu.Unlock()
	if f == nil || f.peer != from || f.id != c.id {
		return
	}
	select {
	case f.ch <- c:
	default:
	}
}

// Fetch streams peer's snapshot into w, chunk by chunk, and returns the
// bytes written. It fails when the peer refuses, stops answering (Tries
// asks of ChunkWait each for one chunk), sends more than
// MaxSnapshotBytes, w fails, ctx ends or MaxTime passes.
func (t *Transfer) Fetch(ctx context.Context, peer uint64, w io.Writer) (uint64, error) {
	t.fetchMu.Lock()
	defer t.fetchMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, t.cfg.MaxTime)
	defer cancel()
	var idb [8]byte
	_, _ = rand.Read(idb[:]) // a fresh session even if the peer kept one of an earlier run
	f := &fetching{peer: peer, id: binary.BigEndian.Uint64(idb[:]), ch: make(chan chunk, 4)}
	t.mu.Lock()
	t.mu.want = f
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.mu.want = nil
		t.mu.Unlock()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var off uint64
	for {
		c, err := t.next(ctx, f, off, timer)
		if err != nil {
			return off, err
		}
		if c.flag == flagBusy {
			return off, fmt.Errorf("%w (peer %d at offset %d)", ErrBusy, peer, off)
		}
		if off+uint64(len(c.data)) > MaxSnapshotBytes {
			return off, fmt.Errorf("%w: over %d bytes from peer %d", ErrLarge, MaxSnapshotBytes, peer)
		}
		if _, err := w.Write(c.data); err != nil {
			return off, err
		}
		off += uint64(len(c.data))
		if c.flag == flagLast {
			t.cfg.Net.Send(peer, encodeAsk(t.cfg.AskKind, ask{id: f.id, offset: off + 1})) // past the end: done
			return off, nil
		}
	}
}

// next asks for the chunk at off until it comes, Tries times.
func (t *Transfer) next(ctx context.Context, f *fetching, off uint64, timer *time.Timer) (chunk, error) {
	for try := 0; try < t.cfg.Tries; try++ {
		t.cfg.Net.Send(f.peer, encodeAsk(t.cfg.AskKind, ask{id: f.id, offset: off}))
		timer.Reset(t.cfg.ChunkWait)
	wait:
		for {
			select {
			case <-ctx.Done():
				return chunk{}, ctx.Err()
			case <-timer.C:
				break wait
			case c := <-f.ch:
				if c.offset == off {
					return c, nil
				}
			}
		}
	}
	return chunk{}, fmt.Errorf("%w: no chunk at offset %d from peer %d after %d asks", ErrSilent, off, f.peer, t.cfg.Tries)
}
