package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// MaxAddedPeers bounds the peers AddPeer may add over a transport's life.
const MaxAddedPeers = 256

// ErrTooManyPeers is returned by AddPeer past MaxAddedPeers.
var ErrTooManyPeers = errors.New("p2p: too many added peers")

func (t *Transport) peer(id string) *peer {
	t.pmu.RLock()
	defer t.pmu.RUnlock()
	return t.peers[id]
}

func (t *Transport) peerByKey(k ed25519.PublicKey) *peer {
	t.pmu.RLock()
	defer t.pmu.RUnlock()
	return t.byKey[string(k)]
}

func (t *Transport) peerList() []*peer {
	t.pmu.RLock()
	defer t.pmu.RUnlock()
	out := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		out = append(out, p)
	}
	return out
}

// AddPeer adds a node learnt after New: a validator that a chain's
// governance added, with the key and address the chain's certified state
// gives. Its key is pinned like a configured peer's, so only that node can
// authenticate as it. Adding a known peer with the same key does nothing;
// an ID or key another peer has is an error. A peer this node dials
// (greater ID) is dialled at once if the transport runs.
func (t *Transport) AddPeer(pc Peer) error {
	if !validNodeID(pc.ID) || pc.ID == t.cfg.ID {
		return fmt.Errorf("p2p: cannot add peer %q", pc.ID)
	}
	if len(pc.PubKey) != ed25519.PublicKeySize {
		return fmt.Errorf("p2p: peer %q: key must be an Ed25519 public key", pc.ID)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.pmu.Lock()
	defer t.pmu.Unlock()
	if old := t.peers[pc.ID]; old != nil {
		if old.PubKey.Equal(pc.PubKey) {
			return nil
		}
		return fmt.Errorf("p2p: peer %q is known with another key", pc.ID)
	}
	self := t.cfg.Key.Public().(ed25519.PublicKey)
	if self.Equal(pc.PubKey) || t.byKey[string(pc.PubKey)] != nil {
		return fmt.Errorf("p2p: peer %q: key shared with another node", pc.ID)
	}
	p := &peer{
		Peer: Peer{ID: pc.ID, Addr: pc.Addr, PubKey: append(ed25519.PublicKey(nil), pc.PubKey...)},
		dial: t.cfg.ID < pc.ID,
		out:  make(chan outMsg, t.cfg.QueueSize),
	}
	if p.dial && p.Addr == "" {
		return fmt.Errorf("p2p: peer %q: no address to dial", pc.ID)
	}
	if t.added >= MaxAddedPeers {
		return ErrTooManyPeers
	}
	t.added++
	t.peers[p.ID] = p
	t.byKey[string(p.PubKey)] = p
	if t.started && p.dial {
		t.wg.Add(1)
		go t.dialLoop(p)
	}
	t.log.Info("p2p peer added", "peer", p.ID, "addr", p.Addr, "dial", p.dial)
	return nil
}
