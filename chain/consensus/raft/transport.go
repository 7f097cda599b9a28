package raft

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/consensus"
)

// Transport errors.
var (
	// ErrRPCTimeout is returned when no response came within RPCTimeout
	// (the request or its response was dropped, or the peer is down).
	ErrRPCTimeout = errors.New("raft: rpc timed out")
	// ErrTransportClosed is returned after Close.
	ErrTransportClosed = errors.New("raft: transport closed")
	// ErrBadPeer is returned for an address that is not another validator's
	// node number.
	ErrBadPeer = errors.New("raft: bad peer address")
	// ErrPeerRestarted fails the calls in flight to a peer whose requests
	// come from a new incarnation: it will never answer them.
	ErrPeerRestarted = errors.New("raft: peer restarted")
)

// maxInbound bounds the inbound RPCs handled at once; more are dropped
// (their senders time out and retry).
const maxInbound = 128

// transport is hashicorp/raft's Transport over a consensus.Network, which
// carries messages, not connections: every RPC is a request with an ID and
// a response matched to it, and a call that hears nothing for RPCTimeout
// fails (raft retries with backoff). Addresses are node numbers in decimal.
// Pipelining is not offered.
//
// Every request and response carries the sender's incarnation, a random
// number per transport. A message from a peer under a new incarnation
// means the peer restarted: the calls in flight to it fail at once instead
// of waiting out RPCTimeout (a leader would otherwise send a restarted
// follower nothing for that long; the follower may still get heartbeats,
// so requests alone do not tell).
type transport struct {
	self        uint64
	nodes       uint64
	net         consensus.Network
	timeout     time.Duration
	incarnation uint64
	consume     chan hraft.RPC
	slots       chan struct{}
	closed      chan struct{}
	once        sync.Once

	mu struct {
		sync.Mutex
		next      uint64
		calls     map[uint64]call
		peers     map[uint64]uint64 // each peer's incarnation, from its requests
		heartbeat func(hraft.RPC)
	}
}

// call is a request waiting for its response.
type call struct {
	to uint64
	ch chan reply
}

type reply struct {
	typ       byte
	err       string
	body      []byte
	restarted bool // the peer restarted: no response will come
}

var (
	_ hraft.Transport   = (*transport)(nil)
	_ hraft.WithPreVote = (*transport)(nil)
	_ hraft.WithClose   = (*transport)(nil)
)

func newTransport(self, nodes uint64, net consensus.Network, timeout time.Duration) *transport {
	t := &transport{self: self, nodes: nodes, net: net, timeout: timeout,
		consume: make(chan hraft.RPC), slots: make(chan struct{}, maxInbound), closed: make(chan struct{})}
	t.mu.calls = make(map[uint64]call)
	t.mu.peers = make(map[uint64]uint64)
	// Call IDs start at random, so a reply to an earlier engine of the same
	// set on this node (restarted after a catch-up) matches no call.
	t.mu.next = rand.Uint64() >> 1
	t.incarnation = rand.Uint64()>>1 + 1
	return t
}

func addrOf(n uint64) hraft.ServerAddress { return hraft.ServerAddress(strconv.FormatUint(n, 10)) }

func (t *transport) node(a hraft.ServerAddress) (uint64, error) {
	n, err := strconv.ParseUint(string(a), 10, 64)
	if err != nil || n == 0 || n > t.nodes || n == t.self {
		return 0, fmt.Errorf("%w: %q", ErrBadPeer, a)
	}
	return n, nil
}

func (t *transport) Consumer() <-chan hraft.RPC     { return t.consume }
func (t *transport) LocalAddr() hraft.ServerAddress { return addrOf(t.self) }

func (t *transport) AppendEntriesPipeline(hraft.ServerID, hraft.ServerAddress) (hraft.AppendPipeline, error) {
	return nil, hraft.ErrPipelineReplicationNotSupported
}

func (t *transport) AppendEntries(_ hraft.ServerID, a hraft.ServerAddress, req *hraft.AppendEntriesRequest, resp *hraft.AppendEntriesResponse) error {
	return t.call(a, req, nil, resp)
}

func (t *transport) RequestVote(_ hraft.ServerID, a hraft.ServerAddress, req *hraft.RequestVoteRequest, resp *hraft.RequestVoteResponse) error {
	return t.call(a, req, nil, resp)
}

func (t *transport) RequestPreVote(_ hraft.ServerID, a hraft.ServerAddress, req *hraft.RequestPreVoteRequest, resp *hraft.RequestPreVoteResponse) error {
	return t.call(a, req, nil, resp)
}

// InstallSnapshot sends the whole snapshot in one message: ours is a ledger
// head and at most one pending block, so it fits.
func (t *transport) InstallSnapshot(_ hraft.ServerID, a hraft.ServerAddress, req *hraft.InstallSnapshotRequest, resp *hraft.InstallSnapshotResponse, data io.Reader) error {
	if req.Size < 0 || req.Size > maxData {
		return fmt.Errorf("raft: snapshot of %d bytes exceeds %d", req.Size, maxData)
	}
	snap, err := io.ReadAll(io.LimitReader(data, req.Size+1))
	if err != nil {
		return err
	}
	return t.call(a, req, snap, resp)
}

func (t *transport) TimeoutNow(_ hraft.ServerID, a hraft.ServerAddress, req *hraft.TimeoutNowRequest, resp *hraft.TimeoutNowResponse) error {
	return t.call(a, req, nil, resp)
}

func (t *transport) EncodePeer(_ hraft.ServerID, a hraft.ServerAddress) []byte { return []byte(a) }
func (t *transport) DecodePeer(b []byte) hraft.ServerAddress                   { return hraft.ServerAddress(b) }

func (t *transport) SetHeartbeatHandler(cb func(hraft.RPC)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.heartbeat = cb
}

// Close fails pending calls and stops handing RPCs to raft.
func (t *transport) Close() error {
	t.once.Do(func() { close(t.closed) })
	return nil
}

// call sends a request and waits for the matching response.
func (t *transport) call(a hraft.ServerAddress, req any, snap []byte, resp any) error {
	to, err := t.node(a)
	if err != nil {
		return err
	}
	ch := make(chan reply, 1)
	t.mu.Lock()
	t.mu.next++
	id := t.mu.next
	t.mu.calls[id] = call{to: to, ch: ch}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.mu.calls, id)
		t.mu.Unlock()
	}()
	w := codec.NewWriter(256)
	w.Byte(kindRPC)
	w.Uint(t.incarnation)
	w.Uint(id)
	w.Byte(0) // type, filled below
	typPos := len(w.Bytes()) - 1
	typ, err := encodeRequest(w, req, snap)
	if err != nil {
		return err
	}
	msg := w.Bytes()
	msg[typPos] = typ
	t.net.Send(to, msg)
	timer := time.NewTimer(t.timeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.restarted {
			return fmt.Errorf("%w: node %d", ErrPeerRestarted, to)
		}
		if r.err != "" {
			return errors.New(r.err)
		}
		return decodeResponse(r.typ, r.body, resp)
	case <-timer.C:
		return fmt.Errorf("%w: node %d", ErrRPCTimeout, to)
	case <-t.closed:
		return ErrTransportClosed
	}
}

// reply routes a response from peer from to the call waiting for it.
func (t *transport) reply(from uint64, msg []byte) {
	r := codec.NewReader(msg)
	inc := r.Uint("reply.incarnation")
	id := r.Uint("reply.id")
	typ := r.Byte("reply.type")
	errStr := r.String("reply.error", maxErr)
	if r.Err() != nil || inc == 0 {
		return
	}
	// After the call gets its response: a restarted peer may answer a
	// request its earlier incarnation was sent (one the network queued).
	defer t.seen(from, inc)
	body := append([]byte(nil), msg[r.Offset():]...)
	t.mu.Lock()
	c, ok := t.mu.calls[id]
	t.mu.Unlock()
	if ok {
		select {
		case c.ch <- reply{typ: typ, err: errStr, body: body}:
		default:
		}
	}
}

// seen records peer from's incarnation; a new one fails the calls in
// flight to it.
func (t *transport) seen(from, inc uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.mu.peers[from]
	t.mu.peers[from] = inc
	if old == 0 || old == inc {
		return
	}
	for _, c := range t.mu.calls {
		if c.to == from {
			select {
			case c.ch <- reply{restarted: true}:
			default:
			}
		}
	}
}

// serve decodes a peer's request and hands it to raft on its own goroutine
// (bounded by maxInbound), then sends raft's response back.
func (t *transport) serve(from uint64, msg []byte) {
	r := codec.NewReader(msg)
	inc := r.Uint("rpc.incarnation")
	id := r.Uint("rpc.id")
	typ := r.Byte("rpc.type")
	if r.Err() != nil || inc == 0 {
		return
	}
	cmd, snap, err := decodeRequest(typ, msg[r.Offset():])
	if err != nil {
		return
	}
	t.seen(from, inc)
	select {
	case t.slots <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-t.slots }()
		t.handle(from, id, typ, cmd, snap)
	}()
}

func (t *transport) handle(from, id uint64, typ byte, cmd any, snap []byte) {
	respCh := make(chan hraft.RPCResponse, 1)
	rpc := hraft.RPC{Command: cmd, RespChan: respCh}
	if _, ok := cmd.(*hraft.InstallSnapshotRequest); ok {
		rpc.Reader = bytes.NewReader(snap)
	}
	timer := time.NewTimer(t.timeout)
	defer timer.Stop()
	if hb := t.heartbeatHandler(cmd); hb != nil {
		hb(rpc)
	} else {
		select {
		case t.consume <- rpc:
		case <-timer.C:
			return
		case <-t.closed:
			return
		}
	}
	var resp hraft.RPCResponse
	select {
	case resp = <-respCh:
	case <-timer.C:
		return
	case <-t.closed:
		return
	}
	w := codec.NewWriter(64)
	w.Byte(kindRPCReply)
	w.Uint(t.incarnation)
	w.Uint(id)
	w.Byte(0)
	typPos := len(w.Bytes()) - 1
	errStr := ""
	if resp.Error != nil {
		errStr = resp.Error.Error()
		if len(errStr) > maxErr {
			errStr = errStr[:maxErr]
		}
		if !codec.Printable(errStr) {
			errStr = "remote error"
		}
	}
	w.String(errStr)
	body := resp.Response
	if body == nil {
		body = newResponse(typ)
	}
	rtyp, err := encodeResponse(w, body)
	if err != nil {
		return
	}
	out := w.Bytes()
	out[typPos] = rtyp
	t.net.Send(from, out)
}

// heartbeatHandler returns the fast-path handler for a heartbeat (an
// AppendEntries with no entries and no log position, as net_transport.go
// recognises one), nil otherwise.
func (t *transport) heartbeatHandler(cmd any) func(hraft.RPC) {
	req, ok := cmd.(*hraft.AppendEntriesRequest)
	if !ok || req.Term == 0 || len(req.Addr) == 0 || req.PrevLogEntry != 0 || req.PrevLogTerm != 0 || len(req.Entries) != 0 || req.LeaderCommitIndex != 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.heartbeat
}
