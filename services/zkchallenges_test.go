package services

import (
	"errors"
	"testing"
	"time"
)

// TestZKChallenges: single use, expiry, and the bound on outstanding
// challenges (expired ones make room, live ones do not).
func TestZKChallenges(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newZKChallenges(2)
	ch := func(ttl time.Duration) *zkChallenge { return &zkChallenge{expires: now.Add(ttl)} }
	if err := c.put([]byte("nonce-a"), ch(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := c.put([]byte("nonce-b"), ch(time.Second), now); err != nil {
		t.Fatal(err)
	}
	if err := c.put([]byte("nonce-c"), ch(time.Minute), now); !errors.Is(err, errChallengesFull) {
		t.Fatalf("third challenge in a store of two: %v", err)
	}
	if _, err := c.take([]byte("nonce-x"), now); !errors.Is(err, errChallengeUnknown) {
		t.Fatalf("unknown nonce: %v", err)
	}
	if _, err := c.take([]byte("nonce-a"), now); err != nil {
		t.Fatal(err)
	}
	if _, err := c.take([]byte("nonce-a"), now); !errors.Is(err, errChallengeUsed) {
		t.Fatalf("second take: %v", err)
	}
	later := now.Add(2 * time.Second)
	if _, err := c.take([]byte("nonce-b"), later); !errors.Is(err, errChallengeUnknown) {
		t.Fatalf("expired nonce: %v", err)
	}
	// nonce-b expired: room for one more, but nonce-a (used, live) stays.
	if err := c.put([]byte("nonce-c"), &zkChallenge{expires: later.Add(time.Minute)}, later); err != nil {
		t.Fatal(err)
	}
	if _, err := c.take([]byte("nonce-a"), later); !errors.Is(err, errChallengeUsed) {
		t.Fatalf("used nonce forgotten before expiry: %v", err)
	}
	if err := c.put([]byte("nonce-d"), &zkChallenge{expires: later.Add(time.Minute)}, later); !errors.Is(err, errChallengesFull) {
		t.Fatalf("store over its bound: %v", err)
	}
}
