package he

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"fmt"
)

// MaxIDLen bounds query, member and aggregator IDs (printable ASCII).
const MaxIDLen = 128

// Member is one participant as every party knows it: its ID (its sender
// address on the governance chain) and its static public keys.
type Member struct {
	ID string
	// SignKey verifies the member's messages (Ed25519, RFC 8032).
	SignKey ed25519.PublicKey
	// BoxKey is the member's X25519 key that threshold shares are sealed
	// to (HPKE, RFC 9180). The aggregator needs none.
	BoxKey []byte
}

// Query is what the governance chain approved: the participants in their
// recorded order (member i gets Shamir point i+1), the threshold, the vector
// length and the aggregator that coordinates decryption.
type Query struct {
	ID         string
	Members    []Member
	Threshold  int
	VectorLen  int
	Aggregator Member
}

// Identity is a party's own static keys.
type Identity struct {
	ID   string
	Sign ed25519.PrivateKey
	// Box is the X25519 private key; nil for the aggregator.
	Box *ecdh.PrivateKey
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Validate checks the query's bounds and keys.
func (q *Query) Validate() error {
	n := len(q.Members)
	switch {
	case !validID(q.ID):
		return fmt.Errorf("%w: query ID must be 1..%d printable ASCII characters", ErrConfig, MaxIDLen)
	case n < 2 || n > MaxParties:
		return fmt.Errorf("%w: %d members, want 2..%d", ErrConfig, n, MaxParties)
	case q.Threshold < 2 || q.Threshold > n:
		return fmt.Errorf("%w: threshold %d, want 2..%d", ErrConfig, q.Threshold, n)
	case q.VectorLen < 1 || q.VectorLen > Slots:
		return fmt.Errorf("%w: vector length %d, want 1..%d", ErrConfig, q.VectorLen, Slots)
	case !validID(q.Aggregator.ID) || len(q.Aggregator.SignKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: aggregator needs an ID and an Ed25519 key", ErrConfig)
	}
	seen := map[string]bool{q.Aggregator.ID: true}
	for i, m := range q.Members {
		if !validID(m.ID) || seen[m.ID] {
			return fmt.Errorf("%w: member %d: ID missing, invalid or repeated (the aggregator's ID included)", ErrConfig, i)
		}
		seen[m.ID] = true
		if len(m.SignKey) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: member %s: Ed25519 key of %d bytes", ErrConfig, m.ID, len(m.SignKey))
		}
		if _, err := ecdh.X25519().NewPublicKey(m.BoxKey); err != nil {
			return fmt.Errorf("%w: member %s: X25519 key: %v", ErrConfig, m.ID, err)
		}
	}
	return nil
}

// index returns the member index of id, or -1.
func (q *Query) index(id string) int {
	for i, m := range q.Members {
		if m.ID == id {
			return i
		}
	}
	return -1
}

// signKey returns the key that verifies messages from id (member or
// aggregator).
func (q *Query) signKey(id string) ed25519.PublicKey {
	if id == q.Aggregator.ID {
		return q.Aggregator.SignKey
	}
	if i := q.index(id); i >= 0 {
		return q.Members[i].SignKey
	}
	return nil
}

// checkIdentity checks that self's keys are the ones the roster names.
func checkIdentity(want Member, self Identity, needBox bool) error {
	if len(self.Sign) != ed25519.PrivateKeySize || !bytes.Equal(self.Sign.Public().(ed25519.PublicKey), want.SignKey) {
		return fmt.Errorf("%w: %s: signing key does not match the roster", ErrConfig, self.ID)
	}
	if needBox && (self.Box == nil || self.Box.Curve() != ecdh.X25519() || !bytes.Equal(self.Box.PublicKey().Bytes(), want.BoxKey)) {
		return fmt.Errorf("%w: %s: X25519 key does not match the roster", ErrConfig, self.ID)
	}
	return nil
}
