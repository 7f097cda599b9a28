// Package codec is Polity's canonical binary encoding: unsigned integers as
// minimal LEB128 varints, byte strings as a varint length then the bytes,
// fixed-size hashes as raw bytes. Every value has exactly one encoding, so
// decoding is strict: non-minimal varints, lengths beyond the caller's bound
// and trailing bytes are errors.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors returned by Reader. Each is wrapped with the field being read.
var (
	ErrShort     = errors.New("codec: input ends early")
	ErrVarint    = errors.New("codec: malformed or non-minimal varint")
	ErrTooLong   = errors.New("codec: field exceeds its size limit")
	ErrTrailing  = errors.New("codec: trailing bytes after value")
	ErrBadValue  = errors.New("codec: invalid value")
	ErrBadString = errors.New("codec: string is not valid printable UTF-8")
)

// Writer appends canonical encodings to a byte slice. The zero value is ready.
type Writer struct{ buf []byte }

// NewWriter returns a writer with capacity for n bytes.
func NewWriter(n int) *Writer { return &Writer{buf: make([]byte, 0, n)} }

// Bytes returns the encoding so far; the writer keeps ownership until it is discarded.
func (w *Writer) Bytes() []byte { return w.buf }

// Uint appends v as a minimal varint.
func (w *Writer) Uint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }

// Byte appends one byte.
func (w *Writer) Byte(b byte) { w.buf = append(w.buf, b) }

// Bool appends 1 or 0.
func (w *Writer) Bool(b bool) {
	if b {
		w.Byte(1)
	} else {
		w.Byte(0)
	}
}

// Fixed appends b with no length prefix (for fixed-size fields such as hashes).
func (w *Writer) Fixed(b []byte) { w.buf = append(w.buf, b...) }

// Bytes appends a length-prefixed byte string.
func (w *Writer) VarBytes(b []byte) {
	w.Uint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// String appends a length-prefixed string.
func (w *Writer) String(s string) {
	w.Uint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// Reader decodes canonical encodings. After the first error every further
// read returns zero values and Err reports that first error, so callers may
// decode a whole structure and check once.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader reads from b; it never modifies b. Byte slices returned by the
// reader alias b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err returns the first error met.
func (r *Reader) Err() error { return r.err }

// Remaining is the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.buf) - r.off }

// Offset is the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

func (r *Reader) fail(field string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", field, err)
	}
}

// Failf records a validation error found by the caller (wrapping ErrBadValue).
func (r *Reader) Failf(field, format string, args ...any) {
	r.fail(field, fmt.Errorf("%w: %s", ErrBadValue, fmt.Sprintf(format, args...)))
}

// Uint reads a minimal varint.
func (r *Reader) Uint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	if n == 0 {
		r.fail(field, ErrShort)
		return 0
	}
	// n < 0 is overflow; a final zero byte after the first means a non-minimal form.
	if n < 0 || (n > 1 && r.buf[r.off+n-1] == 0) {
		r.fail(field, ErrVarint)
		return 0
	}
	r.off += n
	return v
}

// UintMax reads a varint and checks it against max.
func (r *Reader) UintMax(field string, max uint64) uint64 {
	v := r.Uint(field)
	if v > max {
		r.fail(field, fmt.Errorf("%w: %d > %d", ErrTooLong, v, max))
		return 0
	}
	return v
}

// Byte reads one byte.
func (r *Reader) Byte(field string) byte {
	b := r.Fixed(field, 1)
	if b == nil {
		return 0
	}
	return b[0]
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool(field string) bool {
	b := r.Byte(field)
	if b > 1 {
		r.fail(field, ErrBadValue)
		return false
	}
	return b == 1
}

// Fixed reads exactly n bytes.
func (r *Reader) Fixed(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.Remaining() < n {
		r.fail(field, ErrShort)
		return nil
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

// Hash32 reads 32 raw bytes into dst.
func (r *Reader) Hash32(field string, dst *[32]byte) {
	if b := r.Fixed(field, 32); b != nil {
		copy(dst[:], b)
	}
}

// VarBytes reads a length-prefixed byte string of at most max bytes. An empty
// string decodes as nil.
func (r *Reader) VarBytes(field string, max int) []byte {
	n := r.UintMax(field, uint64(max))
	if r.err != nil || n == 0 {
		return nil
	}
	return r.Fixed(field, int(n))
}

// String reads a length-prefixed string of at most max bytes that must be
// valid UTF-8 without control characters.
func (r *Reader) String(field string, max int) string {
	b := r.VarBytes(field, max)
	if r.err != nil {
		return ""
	}
	if !Printable(string(b)) {
		r.fail(field, ErrBadString)
		return ""
	}
	return string(b)
}

// Done fails with ErrTrailing if input remains, and returns Err.
func (r *Reader) Done() error {
	if r.err == nil && r.Remaining() != 0 {
		r.err = fmt.Errorf("%d bytes: %w", r.Remaining(), ErrTrailing)
	}
	return r.err
}

// Printable reports whether s is valid UTF-8 with no control characters.
func Printable(s string) bool {
	for _, c := range s {
		if c == 0xFFFD || c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) {
			return false
		}
	}
	return true
}
