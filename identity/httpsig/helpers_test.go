package httpsig

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto"
)

const (
	callerDID = "did:polity:agency-7"
	callerKID = callerDID + "#key-1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testKey(t testing.TB, s crypto.Suite, name string) crypto.PrivateKey {
	t.Helper()
	seed := sha256.Sum256([]byte(name))
	k, err := s.PrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// memKeys maps key IDs to their current key.
type memKeys struct {
	mu   sync.Mutex
	keys map[string]crypto.PublicKey
}

func (m *memKeys) set(kid string, k crypto.PublicKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[kid] = k
}

func (m *memKeys) CurrentKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownKey, kid)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newVerifier(t testing.TB, keys *memKeys, clk *clock) *Verifier {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Keys = keys
	cfg.Now = clk.now
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
