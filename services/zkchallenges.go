package services

import (
	"errors"
	"sync"
	"time"

	"github.com/polityledger/polity/privacy/zk"
)

// Challenge store limits.
const (
	// MaxZKChallenges bounds the challenges one node keeps (issued and not
	// yet expired, used or not): about 1 KiB each.
	MaxZKChallenges = 10_000
	// DefaultZKChallengeTTL and MaxZKChallengeTTL bound a challenge's life.
	DefaultZKChallengeTTL = 5 * time.Minute
	MaxZKChallengeTTL     = 10 * time.Minute
	// zkNonceLen is the length of the random nonces the node draws.
	zkNonceLen = 32
)

// Errors of the challenge store.
var (
	errChallengeUnknown = errors.New("zk: unknown or expired challenge")
	errChallengeUsed    = errors.New("zk: challenge already used")
	errChallengesFull   = errors.New("zk: too many outstanding challenges")
)

// zkChallenge is what a verifier asked to be proven, fixed when the
// challenge was issued.
type zkChallenge struct {
	// want holds the predicate and its public parameters (Cutoff,
	// AttrIndex, SetRoot, Min, Max) and the challenge; the fields the
	// chain fixes (issuer, holder, status list and root) are zero.
	want    zk.Statement
	minAge  int       // age-at-least: the age asked for
	day     time.Time // age-at-least: the UTC date the cutoff is from
	expires time.Time
	used    bool
}

// zkChallenges is a bounded in-memory store of single-use challenges.
// Used challenges stay until they expire, so a replay is told apart from
// an unknown nonce. Safe for concurrent use.
type zkChallenges struct {
	max int
	mu  struct {
		sync.Mutex
		m map[string]*zkChallenge
	}
}

func newZKChallenges(max int) *zkChallenges {
	c := &zkChallenges{max: max}
	c.mu.m = make(map[string]*zkChallenge)
	return c
}

// put stores ch under nonce, dropping expired entries when full.
func (c *zkChallenges) put(nonce []byte, ch *zkChallenge, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mu.m) >= c.max {
		c.expireLocked(now)
	}
	if len(c.mu.m) >= c.max {
		return errChallengesFull
	}
	if _, dup := c.mu.m[string(nonce)]; dup { // 256 random bits: never, unless the RNG is broken
		return errors.New("zk: nonce collision")
	}
	c.mu.m[string(nonce)] = ch
	return nil
}

// take marks the challenge of nonce used and returns it: each challenge
// serves one verification attempt.
func (c *zkChallenges) take(nonce []byte, now time.Time) (*zkChallenge, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.mu.m[string(nonce)]
	if !ok || !now.Before(ch.expires) {
		return nil, errChallengeUnknown
	}
	if ch.used {
		return nil, errChallengeUsed
	}
	ch.used = true
	return ch, nil
}

func (c *zkChallenges) expireLocked(now time.Time) {
	for k, ch := range c.mu.m {
		if !now.Before(ch.expires) {
			delete(c.mu.m, k)
		}
	}
}
