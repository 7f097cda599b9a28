package zk

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/consensys/gnark/frontend"
)

// Statement is everything a verifier knows and a proof is checked against:
// the public inputs of the predicate's circuit.
type Statement struct {
	Predicate Predicate
	// Issuer is the key the credential must be signed by (from the issuer's
	// DID document and the trust registry).
	Issuer IssuerPublicKey
	// Holder is HashDID of the DID the verifier authenticated.
	Holder Field
	// StatusList is HashStatusListID of the issuer's status list, and
	// StatusRoot its current root (StatusRoot of the bitstring, as anchored
	// on the identity chain).
	StatusList Field
	StatusRoot Field
	// Challenge is ChallengeFromNonce of the verifier's fresh nonce.
	Challenge Field

	// AgeAtLeast: the latest admissible birth date (AgeCutoff).
	Cutoff uint64
	// InSet and InRange: which attribute the predicate is about.
	AttrIndex uint8
	// InSet: the set's root (SetRoot).
	SetRoot Field
	// InRange: the inclusive bounds.
	Min, Max uint64
}

// Validate checks the statement is well formed for its predicate: canonical
// field elements, a valid issuer point, a non-zero challenge, an attribute
// index in range, Min <= Max, and the fields of other predicates zero.
func (s *Statement) Validate() error {
	if !s.Predicate.valid() {
		return fmt.Errorf("%w: predicate %d", ErrBadInput, uint8(s.Predicate))
	}
	if _, err := s.Issuer.point(); err != nil {
		return err
	}
	for _, f := range []Field{s.Holder, s.StatusList, s.StatusRoot, s.Challenge, s.SetRoot} {
		if !f.valid() {
			return fmt.Errorf("%w: statement field element not canonical", ErrBadInput)
		}
	}
	if s.Challenge.IsZero() {
		return fmt.Errorf("%w: zero challenge", ErrBadInput)
	}
	unused := false
	switch s.Predicate {
	case AgeAtLeast:
		unused = s.AttrIndex != 0 || !s.SetRoot.IsZero() || s.Min != 0 || s.Max != 0
	case InSet:
		unused = s.Cutoff != 0 || s.Min != 0 || s.Max != 0
	case InRange:
		unused = s.Cutoff != 0 || !s.SetRoot.IsZero()
		if s.Min > s.Max {
			return fmt.Errorf("%w: range [%d, %d] is empty", ErrBadInput, s.Min, s.Max)
		}
	}
	if unused {
		return fmt.Errorf("%w: %s statement sets fields of another predicate", ErrBadInput, s.Predicate)
	}
	if (s.Predicate == InSet || s.Predicate == InRange) && s.AttrIndex >= NumAttributes {
		return fmt.Errorf("%w: attribute index %d, want below %d", ErrBadInput, s.AttrIndex, NumAttributes)
	}
	return nil
}

const statementVersion = 1

const statementCommonSize = 2 + IssuerPublicKeySize + 4*32

// statementSize is the exact encoded length per predicate.
func statementSize(p Predicate) int {
	switch p {
	case AgeAtLeast:
		return statementCommonSize + 8
	case InSet:
		return statementCommonSize + 1 + 32
	case InRange:
		return statementCommonSize + 1 + 16
	}
	return 0
}

// MaxStatementSize bounds any encoded statement.
const MaxStatementSize = statementCommonSize + 1 + 32

// MarshalBinary encodes version(1) predicate(1) issuer(32) holder(32)
// statusList(32) statusRoot(32) challenge(32), then per predicate:
// AgeAtLeast cutoff(8); InSet attrIndex(1) setRoot(32); InRange
// attrIndex(1) min(8) max(8). Integers are big-endian.
func (s *Statement) MarshalBinary() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, statementSize(s.Predicate))
	b = append(b, statementVersion, byte(s.Predicate))
	b = append(b, s.Issuer[:]...)
	b = append(b, s.Holder[:]...)
	b = append(b, s.StatusList[:]...)
	b = append(b, s.StatusRoot[:]...)
	b = append(b, s.Challenge[:]...)
	switch s.Predicate {
	case AgeAtLeast:
		b = binary.BigEndian.AppendUint64(b, s.Cutoff)
	case InSet:
		b = append(b, s.AttrIndex)
		b = append(b, s.SetRoot[:]...)
	case InRange:
		b = append(b, s.AttrIndex)
		b = binary.BigEndian.AppendUint64(b, s.Min)
		b = binary.BigEndian.AppendUint64(b, s.Max)
	}
	return b, nil
}

// UnmarshalBinary decodes the exact encoding of MarshalBinary and validates.
func (s *Statement) UnmarshalBinary(b []byte) error {
	if len(b) < 2 || b[0] != statementVersion {
		return fmt.Errorf("%w: statement header", ErrBadInput)
	}
	p := Predicate(b[1])
	if !p.valid() || len(b) != statementSize(p) {
		return fmt.Errorf("%w: statement of %d bytes for predicate %d", ErrBadInput, len(b), b[1])
	}
	out := Statement{Predicate: p}
	r := b[2:]
	copy(out.Issuer[:], r)
	r = r[IssuerPublicKeySize:]
	for _, f := range []*Field{&out.Holder, &out.StatusList, &out.StatusRoot, &out.Challenge} {
		copy(f[:], r)
		r = r[32:]
	}
	switch p {
	case AgeAtLeast:
		out.Cutoff = binary.BigEndian.Uint64(r)
	case InSet:
		out.AttrIndex = r[0]
		copy(out.SetRoot[:], r[1:])
	case InRange:
		out.AttrIndex = r[0]
		out.Min = binary.BigEndian.Uint64(r[1:])
		out.Max = binary.BigEndian.Uint64(r[9:])
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*s = out
	return nil
}

// publicAssignment fills the circuit's public inputs from the statement.
func (s *Statement) publicAssignment() (frontend.Circuit, error) {
	a, err := s.Issuer.point()
	if err != nil {
		return nil, err
	}
	pub := commonPublic{
		Holder:     s.Holder.bigInt(),
		StatusList: s.StatusList.bigInt(),
		StatusRoot: s.StatusRoot.bigInt(),
		Challenge:  s.Challenge.bigInt(),
	}
	pub.Issuer.A.X = a.X.BigInt(new(big.Int))
	pub.Issuer.A.Y = a.Y.BigInt(new(big.Int))
	switch s.Predicate {
	case AgeAtLeast:
		return &ageCircuit{Pub: pub, Cutoff: s.Cutoff}, nil
	case InSet:
		return &setCircuit{Pub: pub, AttrIndex: s.AttrIndex, SetRoot: s.SetRoot.bigInt()}, nil
	case InRange:
		return &rangeCircuit{Pub: pub, AttrIndex: s.AttrIndex, Min: s.Min, Max: s.Max}, nil
	}
	return nil, fmt.Errorf("%w: predicate %d", ErrBadInput, uint8(s.Predicate))
}
