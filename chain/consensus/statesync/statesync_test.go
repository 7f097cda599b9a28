package statesync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

const (
	kindAsk   byte = 0xF3
	kindChunk byte = 0xF4
)

// net delivers messages between Transfers on goroutines, as a transport
// would; drop, if set, discards messages.
type net struct {
	mu    sync.Mutex
	nodes map[uint64]*Transfer
	drop  func(from, to uint64, msg []byte) bool
}

type port struct {
	n    *net
	self uint64
}

func (p port) Send(to uint64, msg []byte) {
	p.n.mu.Lock()
	t, drop := p.n.nodes[to], p.n.drop
	p.n.mu.Unlock()
	if t == nil || drop != nil && drop(p.self, to, msg) {
		return
	}
	msg = bytes.Clone(msg)
	go func() {
		switch msg[0] {
		case kindAsk:
			t.Serve(p.self, msg[1:])
		case kindChunk:
			t.Receive(p.self, msg[1:])
		}
	}()
}

func snapshot(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// pair is node 1 serving data and node 2 fetching.
func pair(t *testing.T, data []byte, wait time.Duration) (*net, *Transfer, *Transfer) {
	n := &net{nodes: map[uint64]*Transfer{}}
	write := func(w io.Writer) (uint64, error) {
		_, err := w.Write(data)
		return 7, err
	}
	a := New(Config{Net: port{n, 1}, AskKind: kindAsk, ChunkKind: kindChunk, Write: write, ChunkWait: wait})
	b := New(Config{Net: port{n, 2}, AskKind: kindAsk, ChunkKind: kindChunk, ChunkWait: wait})
	n.nodes[1], n.nodes[2] = a, b
	return n, a, b
}

func TestFetch(t *testing.T) {
	for _, size := range []int{0, 10, ChunkSize, 2*ChunkSize + 123} {
		data := snapshot(size)
		_, a, b := pair(t, data, 5*time.Second)
		var got bytes.Buffer
		n, err := b.Fetch(context.Background(), 1, &got)
		if err != nil || n != uint64(size) || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("size %d: fetched %d bytes, equal %v, %v", size, n, bytes.Equal(got.Bytes(), data), err)
		}
		// The final ask ends the server's session.
		for a.sessions() != 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func (t *Transfer) sessions() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.mu.sessions)
}

// TestFetchRetries: lost asks and chunks are asked for again.
func TestFetchRetries(t *testing.T) {
	data := snapshot(3*ChunkSize + 5)
	n, _, b := pair(t, data, 50*time.Millisecond)
	var mu sync.Mutex
	count := 0
	n.drop = func(from, to uint64, msg []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		count++
		return count%3 == 0 // every third message, asks and chunks alike
	}
	var got bytes.Buffer
	if _, err := b.Fetch(context.Background(), 1, &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("equal %v, %v", bytes.Equal(got.Bytes(), data), err)
	}
}

func TestFetchRefusals(t *testing.T) {
	// A silent peer.
	n, _, b := pair(t, snapshot(10), 10*time.Millisecond)
	n.drop = func(from, to uint64, msg []byte) bool { return from == 1 }
	if _, err := b.Fetch(context.Background(), 1, io.Discard); !errors.Is(err, ErrSilent) {
		t.Fatalf("silent peer: %v", err)
	}
	// A peer serving MaxSessions already.
	_, a, b := pair(t, snapshot(10), 5*time.Second)
	a.mu.Lock()
	for i := range MaxSessions {
		a.mu.sessions[sessionKey{9, uint64(i)}] = &session{asks: make(chan uint64, 1)}
	}
	a.mu.Unlock()
	if _, err := b.Fetch(context.Background(), 1, io.Discard); !errors.Is(err, ErrBusy) {
		t.Fatalf("busy peer: %v", err)
	}
	// A peer whose snapshot fails midway.
	_, a, b = pair(t, nil, 5*time.Second)
	a.cfg.Write = func(w io.Writer) (uint64, error) {
		w.Write(snapshot(ChunkSize + 1))
		return 0, errors.New("disk gone")
	}
	if _, err := b.Fetch(context.Background(), 1, io.Discard); !errors.Is(err, ErrBusy) {
		t.Fatalf("failing peer: %v", err)
	}
	// The reader stops taking the stream: the fetch ends with its error.
	_, _, b = pair(t, snapshot(3*ChunkSize), 5*time.Second)
	pr, pw := io.Pipe()
	pr.CloseWithError(errors.New("verification failed"))
	if _, err := b.Fetch(context.Background(), 1, pw); err == nil || err.Error() != "verification failed" {
		t.Fatalf("closed reader: %v", err)
	}
	// Chunks from another peer or session are ignored.
	_, _, b = pair(t, snapshot(10), 10*time.Millisecond)
	b.cfg.Net = port{&net{nodes: map[uint64]*Transfer{}}, 2} // asks go nowhere
	go func() {
		for i := 0; i < 20; i++ {
			b.Receive(3, encodeChunk(kindChunk, chunk{id: 1, flag: flagLast, data: []byte("x")})[1:])
			time.Sleep(time.Millisecond)
		}
	}()
	if _, err := b.Fetch(context.Background(), 1, io.Discard); !errors.Is(err, ErrSilent) {
		t.Fatalf("stray chunks: %v", err)
	}
}

// TestOneSessionPerPeer: a peer's new session ends its previous one, so
// one peer cannot take every session.
func TestOneSessionPerPeer(t *testing.T) {
	_, a, _ := pair(t, snapshot(3*ChunkSize), 5*time.Second)
	for id := range uint64(MaxSessions + 2) {
		a.Serve(2, encodeAsk(kindAsk, ask{id: id, offset: 0})[1:])
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.mu.sessions) != 1 {
		t.Fatalf("%d sessions for one peer", len(a.mu.sessions))
	}
	if _, ok := a.mu.sessions[sessionKey{2, MaxSessions + 1}]; !ok {
		t.Fatal("the peer's latest session is not the one kept")
	}
}

// TestFetchMaxTime: a peer that sends slowly cannot hold a fetch beyond
// MaxTime, nor its own session.
func TestFetchMaxTime(t *testing.T) {
	_, a, b := pair(t, nil, 5*time.Second)
	a.cfg.Write = func(w io.Writer) (uint64, error) {
		for {
			if _, err := w.Write(snapshot(ChunkSize)); err != nil {
				return 0, err
			}
			time.Sleep(20 * time.Millisecond) // a chunk in time, but never the last
		}
	}
	a.cfg.MaxTime, b.cfg.MaxTime = 300*time.Millisecond, 200*time.Millisecond
	start := time.Now()
	if _, err := b.Fetch(context.Background(), 1, io.Discard); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("endless stream: %v after %v", err, time.Since(start))
	}
	for a.sessions() != 0 {
		time.Sleep(time.Millisecond)
	}
}
