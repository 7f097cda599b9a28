package zk

import "errors"

// Sentinel errors. Functions wrap them with %w and context; test with errors.Is.
var (
	// ErrBadInput: an argument or decoded value is malformed, out of range or
	// oversized (wrong length, non-canonical field element, point off the curve).
	ErrBadInput = errors.New("zk: bad input")
	// ErrInvalidProof: the proof does not verify against the statement and key.
	ErrInvalidProof = errors.New("zk: invalid proof")
	// ErrInvalidSignature: an issuer signature over a commitment does not verify.
	ErrInvalidSignature = errors.New("zk: invalid issuer signature")
	// ErrUnsatisfied: the holder's witness does not satisfy the statement
	// (under age, not a member, out of range, revoked, wrong holder ...), so
	// no proof can be made.
	ErrUnsatisfied = errors.New("zk: witness does not satisfy the statement")
	// ErrNotMember: the value is not in the set.
	ErrNotMember = errors.New("zk: not a member of the set")
	// ErrKeyMismatch: a key, statement or ceremony state belongs to another
	// predicate, circuit version or domain size.
	ErrKeyMismatch = errors.New("zk: key does not match the circuit")
	// ErrCeremony: a setup contribution or transcript does not verify.
	ErrCeremony = errors.New("zk: setup ceremony check failed")
)
