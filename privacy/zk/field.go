package zk

import (
	"encoding/hex"
	"fmt"
	"io"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Field is an element of the BN254 scalar field, 32 bytes big-endian,
// always canonical (less than the field modulus r).
type Field [32]byte

// FieldFromUint64 returns v as a field element.
func FieldFromUint64(v uint64) Field {
	var e fr.Element
	e.SetUint64(v)
	return fieldOf(&e)
}

// ParseField decodes 32 big-endian bytes, rejecting values >= r.
func ParseField(b []byte) (Field, error) {
	var e fr.Element
	if len(b) != fr.Bytes {
		return Field{}, fmt.Errorf("%w: field element is %d bytes, want %d", ErrBadInput, len(b), fr.Bytes)
	}
	if err := e.SetBytesCanonical(b); err != nil {
		return Field{}, fmt.Errorf("%w: field element not canonical", ErrBadInput)
	}
	return fieldOf(&e), nil
}

// RandomField draws a uniform field element from r (crypto/rand in production).
func RandomField(r io.Reader) (Field, error) {
	var buf [48]byte // 384 bits reduced mod r: statistical distance < 2^-128
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return Field{}, fmt.Errorf("zk: random field: %w", err)
	}
	var e fr.Element
	e.SetBigInt(new(big.Int).SetBytes(buf[:]))
	return fieldOf(&e), nil
}

// String returns the value in hex.
func (f Field) String() string { return hex.EncodeToString(f[:]) }

// IsZero reports whether f is 0.
func (f Field) IsZero() bool { return f == Field{} }

// valid reports whether f is canonical (a decoded Field always is; a Field
// built by hand might not be).
func (f Field) valid() bool {
	var e fr.Element
	return e.SetBytesCanonical(f[:]) == nil
}

func (f Field) elem() fr.Element {
	var e fr.Element
	e.SetBytes(f[:])
	return e
}

func (f Field) bigInt() *big.Int { return new(big.Int).SetBytes(f[:]) }

func fieldOf(e *fr.Element) Field { return Field(e.Bytes()) }
