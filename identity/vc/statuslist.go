package vc

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
)

// Bitstring Status List bounds (W3C Bitstring Status List v1.0).
const (
	// MinListBits is the minimum list length, 131,072 entries (16 KiB),
	// section 2.1 "herd privacy".
	MinListBits = 131072
	// MaxListBits bounds a decoded list at 8 MiB of bits, so a small
	// encodedList cannot expand without limit (a zip bomb).
	MaxListBits = 64 << 20
	// maxEncodedList bounds the encodedList string itself.
	maxEncodedList = 12 << 20
)

// StatusList is a Bitstring Status List: bit i set means entry i is revoked
// (or suspended, after the list's purpose). Bit 0 is the left-most (most
// significant) bit of the first byte (section 3.2 step 4 and 3.3).
type StatusList struct {
	bits []byte
}

// NewStatusList returns an all-zero list of n entries; n is rounded up to a
// whole byte and must lie in [MinListBits, MaxListBits].
func NewStatusList(n uint64) (*StatusList, error) {
	if n < MinListBits || n > MaxListBits {
		return nil, fmt.Errorf("%w: status list of %d entries outside [%d, %d]", ErrMalformed, n, MinListBits, MaxListBits)
	}
	return &StatusList{bits: make([]byte, (n+7)/8)}, nil
}

// Len returns the number of entries.
func (l *StatusList) Len() uint64 { return uint64(len(l.bits)) * 8 }

// Get returns bit i.
func (l *StatusList) Get(i uint64) (bool, error) {
	if i >= l.Len() {
		return false, fmt.Errorf("%w: status index %d past list of %d", ErrMalformed, i, l.Len())
	}
	return l.bits[i/8]&(0x80>>(i%8)) != 0, nil
}

// Set sets bit i to v.
func (l *StatusList) Set(i uint64, v bool) error {
	if i >= l.Len() {
		return fmt.Errorf("%w: status index %d past list of %d", ErrMalformed, i, l.Len())
	}
	if v {
		l.bits[i/8] |= 0x80 >> (i % 8)
	} else {
		l.bits[i/8] &^= 0x80 >> (i % 8)
	}
	return nil
}

// Bytes returns a copy of the bitstring.
func (l *StatusList) Bytes() []byte { return bytes.Clone(l.bits) }

// Encode returns the encodedList value: the multibase base64url (no padding)
// form, prefix 'u', of the GZIP (RFC 1952) compressed bitstring (section 3.2,
// "Bitstring Generation Algorithm").
func (l *StatusList) Encode() string {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = zw.Write(l.bits)                                  // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	return "u" + b64.EncodeToString(buf.Bytes())
}

// DecodeStatusList expands an encodedList (section 3.3, "Bitstring Expansion
// Algorithm"): multibase 'u' then strict unpadded base64url, exactly one GZIP
// member with nothing after it, at most MaxListBits and at least MinListBits
// bits.
func DecodeStatusList(encoded string) (*StatusList, error) {
	if len(encoded) > maxEncodedList {
		return nil, fmt.Errorf("%w: encodedList of %d bytes", ErrMalformed, len(encoded))
	}
	rest, ok := strings.CutPrefix(encoded, "u")
	if !ok {
		return nil, fmt.Errorf("%w: encodedList lacks the multibase base64url prefix 'u'", ErrMalformed)
	}
	z, err := b64.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: encodedList is not unpadded base64url", ErrMalformed)
	}
	br := bytes.NewReader(z)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: encodedList is not GZIP: %w", ErrMalformed, err)
	}
	zr.Multistream(false)
	bits, err := io.ReadAll(io.LimitReader(zr, MaxListBits/8+1))
	if err != nil {
		return nil, fmt.Errorf("%w: encodedList GZIP: %w", ErrMalformed, err)
	}
	if len(bits) > MaxListBits/8 {
		return nil, fmt.Errorf("%w: status list expands past %d bits", ErrMalformed, MaxListBits)
	}
	if len(bits) < MinListBits/8 {
		return nil, fmt.Errorf("%w: status list of %d bits is shorter than %d", ErrMalformed, len(bits)*8, MinListBits)
	}
	// One member, then the end of the input: flate reads a ByteReader
	// exactly to the member's end, so anything left in br is trailing data.
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the GZIP member", ErrMalformed, br.Len())
	}
	return &StatusList{bits: bits}, nil
}
