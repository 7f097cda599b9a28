package vc

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

const (
	issuerDID = "did:polity:edu-ministry"
	issuerKID = issuerDID + "#key-1"
	holderDID = "did:polity:citizen-42"
	holderKID = holderDID + "#key-1"
	listID    = "did:polity:edu-ministry#status-1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKey derives a key of suite s from a name.
func testKey(t testing.TB, s crypto.Suite, name string) crypto.PrivateKey {
	t.Helper()
	seed := sha256.Sum256([]byte(name))
	k, err := s.PrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyPeriod is one key of a verification method and when it was valid.
type keyPeriod struct {
	key         crypto.PublicKey
	from, until time.Time // until zero: still current
}

// memKeys is a KeyResolver with rotation history.
type memKeys struct {
	mu      sync.Mutex
	methods map[string][]keyPeriod
}

func newMemKeys() *memKeys { return &memKeys{methods: map[string][]keyPeriod{}} }

// set makes k the key of kid from time from on, ending the previous one.
func (m *memKeys) set(kid string, k crypto.PublicKey, from time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.methods[kid]
	if n := len(ps); n > 0 {
		ps[n-1].until = from
	}
	m.methods[kid] = append(ps, keyPeriod{key: k, from: from})
}

func (m *memKeys) KeyAt(kid string, at time.Time) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.methods[kid] {
		if !at.Before(p.from) && (p.until.IsZero() || at.Before(p.until)) {
			return p.key, nil
		}
	}
	return nil, fmt.Errorf("%w: %s at %s", ErrUnknownKey, kid, at)
}

// memTrust is a TrustRegistry.
type memTrust map[string]bool

func (m memTrust) MayIssue(issuer, t string) (bool, error) { return m[issuer+" "+t], nil }

// memStatus is a StatusSource over StatusLists by ID, each with a purpose.
type memStatus struct {
	lists   map[string]*StatusList
	purpose map[string]Purpose
}

func (m *memStatus) StatusBit(list string, i uint64, p Purpose) (bool, error) {
	l, ok := m.lists[list]
	if !ok || m.purpose[list] != p {
		return false, fmt.Errorf("no %s list %s", p, list)
	}
	return l.Get(i)
}

// env is an issuer, a holder and a verifier over in-memory state.
type env struct {
	issuer, holder crypto.PrivateKey
	keys           *memKeys
	trust          memTrust
	status         *memStatus
	v              *Verifier
}

func newEnv(t testing.TB, s crypto.Suite) *env {
	t.Helper()
	e := &env{
		issuer: testKey(t, s, "issuer"),
		holder: testKey(t, s, "holder"),
		keys:   newMemKeys(),
		trust:  memTrust{issuerDID + " StudentCredential": true},
		status: &memStatus{lists: map[string]*StatusList{}, purpose: map[string]Purpose{}},
	}
	e.keys.set(issuerKID, e.issuer.Public(), t0.Add(-24*time.Hour))
	e.keys.set(holderKID, e.holder.Public(), t0.Add(-24*time.Hour))
	for _, p := range []Purpose{PurposeRevocation, PurposeSuspension} {
		l, err := NewStatusList(MinListBits)
		if err != nil {
			t.Fatal(err)
		}
		e.status.lists[listID+"-"+string(p)] = l
		e.status.purpose[listID+"-"+string(p)] = p
	}
	e.v = &Verifier{Keys: e.keys, Trust: e.trust, Status: e.status, Skew: time.Minute}
	return e
}

func (e *env) request() *IssueRequest {
	return &IssueRequest{
		ID:       "urn:uuid:6a1f0b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
		Types:    []string{"StudentCredential"},
		Issuer:   issuerDID,
		KeyID:    issuerKID,
		Subject:  holderDID,
		Claims:   map[string]any{"school": "Polity High", "enrolled": true, "year": 2026.0},
		IssuedAt: t0,
		Expires:  t0.Add(365 * 24 * time.Hour),
		Status:   &StatusEntry{Purpose: PurposeRevocation, ListID: listID + "-revocation", Index: 94567},
	}
}

func (e *env) issue(t testing.TB, mod func(*IssueRequest)) string {
	t.Helper()
	r := e.request()
	if mod != nil {
		mod(r)
	}
	tok, err := Issue(r, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var suitesUnderTest = []crypto.Suite{ed25519sha256.New(), sm2sm3.New()}
