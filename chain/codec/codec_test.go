package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestUintRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 0x7f, 0x80, 0xff, 0x3fff, 0x4000, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		w := NewWriter(0)
		w.Uint(v)
		if want := binary.AppendUvarint(nil, v); !bytes.Equal(w.Bytes(), want) {
			t.Fatalf("Uint(%d) = %x, want %x", v, w.Bytes(), want)
		}
		r := NewReader(w.Bytes())
		if got := r.Uint("v"); got != v || r.Done() != nil {
			t.Fatalf("read %d back as %d, err %v", v, got, r.Err())
		}
	}
}

func TestUintStrict(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error // nil: accepted
		v    uint64
	}{
		{"zero", []byte{0x00}, nil, 0},
		{"one byte max", []byte{0x7f}, nil, 0x7f},
		{"two bytes", []byte{0x80, 0x01}, nil, 0x80},
		{"max uint64", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, nil, math.MaxUint64},
		{"empty", nil, ErrShort, 0},
		{"unterminated", []byte{0x80}, ErrShort, 0},
		{"unterminated long", []byte{0xff, 0xff, 0xff}, ErrShort, 0},
		{"non-minimal zero", []byte{0x80, 0x00}, ErrVarint, 0},
		{"non-minimal one", []byte{0x81, 0x00}, ErrVarint, 0},
		{"non-minimal 3 bytes", []byte{0x81, 0x80, 0x00}, ErrVarint, 0},
		{"non-minimal 10 bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, ErrVarint, 0},
		{"overflow 10th byte 2", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, ErrVarint, 0},
		{"overflow 11 bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, ErrVarint, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in)
			v := r.Uint("f")
			err := r.Err()
			if tc.want == nil {
				if err != nil || v != tc.v || r.Remaining() != 0 {
					t.Fatalf("got %d, %v, remaining %d; want %d", v, err, r.Remaining(), tc.v)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if v != 0 {
				t.Fatalf("value %d on error", v)
			}
			if !strings.HasPrefix(err.Error(), "f: ") {
				t.Fatalf("error %q does not name the field", err)
			}
		})
	}
}

func TestUintMax(t *testing.T) {
	w := NewWriter(0)
	w.Uint(10)
	w.Uint(11)
	r := NewReader(w.Bytes())
	if v := r.UintMax("a", 10); v != 10 || r.Err() != nil {
		t.Fatalf("UintMax at the limit: %d, %v", v, r.Err())
	}
	if v := r.UintMax("b", 10); v != 0 || !errors.Is(r.Err(), ErrTooLong) {
		t.Fatalf("UintMax over the limit: %d, %v", v, r.Err())
	}
}

func TestFixedAndHash(t *testing.T) {
	in := make([]byte, 40)
	for i := range in {
		in[i] = byte(i)
	}
	r := NewReader(in)
	var h [32]byte
	r.Hash32("h", &h)
	if !bytes.Equal(h[:], in[:32]) {
		t.Fatalf("Hash32 = %x", h)
	}
	b := r.Fixed("f", 8)
	if !bytes.Equal(b, in[32:]) || r.Done() != nil {
		t.Fatalf("Fixed = %x, %v", b, r.Err())
	}
	// The returned slice cannot be appended into the rest of the input.
	if cap(b) != len(b) {
		t.Fatalf("Fixed result has spare capacity %d", cap(b)-len(b))
	}

	r = NewReader(in[:31])
	r.Hash32("h", &h)
	if !errors.Is(r.Err(), ErrShort) {
		t.Fatalf("short Hash32: %v", r.Err())
	}
	r = NewReader(in)
	if r.Fixed("neg", -1) != nil || !errors.Is(r.Err(), ErrShort) {
		t.Fatalf("Fixed(-1): %v", r.Err())
	}
	r = NewReader(nil)
	if b := r.Fixed("zero", 0); len(b) != 0 || r.Err() != nil {
		t.Fatalf("Fixed(0) on empty input: %v", r.Err())
	}
}

func TestVarBytes(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		want []byte
		err  error
	}{
		{"empty is nil", []byte{0}, 4, nil, nil},
		{"at limit", []byte{4, 1, 2, 3, 4}, 4, []byte{1, 2, 3, 4}, nil},
		{"over limit", []byte{5, 1, 2, 3, 4, 5}, 4, nil, ErrTooLong},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 1 << 20, nil, ErrTooLong},
		{"truncated", []byte{4, 1, 2, 3}, 4, nil, ErrShort},
		{"no length", nil, 4, nil, ErrShort},
		{"non-minimal length", []byte{0x81, 0x00, 1}, 4, nil, ErrVarint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in)
			got := r.VarBytes("f", tc.max)
			if !errors.Is(r.Err(), tc.err) || (tc.err == nil && r.Err() != nil) {
				t.Fatalf("err = %v, want %v", r.Err(), tc.err)
			}
			if !bytes.Equal(got, tc.want) || (tc.want == nil && got != nil) {
				t.Fatalf("got %x, want %x", got, tc.want)
			}
		})
	}
}

func TestWriterReaderRoundTrip(t *testing.T) {
	w := NewWriter(4)
	w.Byte(7)
	w.Bool(true)
	w.Bool(false)
	w.Uint(300)
	w.Fixed([]byte{9, 9})
	w.VarBytes([]byte("abc"))
	w.VarBytes(nil)
	w.String("héllo wörld ✓")
	w.String("")
	r := NewReader(w.Bytes())
	if r.Byte("b") != 7 || !r.Bool("t") || r.Bool("f") || r.Uint("u") != 300 ||
		!bytes.Equal(r.Fixed("x", 2), []byte{9, 9}) || string(r.VarBytes("vb", 3)) != "abc" ||
		r.VarBytes("nil", 3) != nil || r.String("s", 64) != "héllo wörld ✓" || r.String("e", 0) != "" {
		t.Fatalf("round trip mismatch, err %v", r.Err())
	}
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
	if r.Offset() != len(w.Bytes()) {
		t.Fatalf("offset %d of %d", r.Offset(), len(w.Bytes()))
	}
}

func TestBool(t *testing.T) {
	for b := 0; b < 256; b++ {
		r := NewReader([]byte{byte(b)})
		v := r.Bool("f")
		switch {
		case b <= 1:
			if r.Err() != nil || v != (b == 1) {
				t.Fatalf("Bool(%d) = %v, %v", b, v, r.Err())
			}
		default:
			if !errors.Is(r.Err(), ErrBadValue) || v {
				t.Fatalf("Bool(%d) = %v, %v; want ErrBadValue", b, v, r.Err())
			}
		}
	}
	r := NewReader(nil)
	if r.Bool("f") || !errors.Is(r.Err(), ErrShort) {
		t.Fatalf("Bool on empty input: %v", r.Err())
	}
}

func TestStringPrintable(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"", true},
		{"plain ascii ~!", true},
		{"did:polity:0123#key-0", true},
		{"中文 café", true},
		{"\u00a0nbsp", true},
		{"emoji 😀", true},
		{"tab\t", false},
		{"nl\n", false},
		{"nul\x00", false},
		{"esc\x1b", false},
		{"del\x7f", false},
		{"c1 \u0085", false},
		{"c1 \u009f", false},
		{"bad utf8 \xff", false},
		{"truncated \xe4\xb8", false},
		{"overlong \xc0\xaf", false},
		{"surrogate \xed\xa0\x80", false},
		{"replacement \ufffd", false},
	}
	for _, tc := range tests {
		if got := Printable(tc.s); got != tc.ok {
			t.Errorf("Printable(%q) = %v, want %v", tc.s, got, tc.ok)
		}
		w := NewWriter(0)
		w.String(tc.s)
		r := NewReader(w.Bytes())
		got := r.String("s", 64)
		if tc.ok {
			if got != tc.s || r.Done() != nil {
				t.Errorf("String(%q) = %q, %v", tc.s, got, r.Err())
			}
		} else if !errors.Is(r.Err(), ErrBadString) || got != "" {
			t.Errorf("String(%q) = %q, %v; want ErrBadString", tc.s, got, r.Err())
		}
	}
	// The limit is on bytes, not runes.
	w := NewWriter(0)
	w.String("ééé") // 6 bytes
	r := NewReader(w.Bytes())
	if r.String("s", 5); !errors.Is(r.Err(), ErrTooLong) {
		t.Fatalf("6-byte string under a 5-byte limit: %v", r.Err())
	}
}

func TestTrailing(t *testing.T) {
	r := NewReader([]byte{1, 2})
	r.Byte("a")
	if err := r.Done(); !errors.Is(err, ErrTrailing) {
		t.Fatalf("Done with 1 byte left: %v", err)
	}
	if r.Remaining() != 1 {
		t.Fatalf("remaining %d", r.Remaining())
	}
	r = NewReader([]byte{1})
	r.Byte("a")
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestStickyError(t *testing.T) {
	r := NewReader([]byte{0x80, 0x00, 1, 2, 3, 4})
	r.Uint("first")
	first := r.Err()
	if !errors.Is(first, ErrVarint) {
		t.Fatalf("first error %v", first)
	}
	if r.Byte("b") != 0 || r.Bool("c") || r.Uint("d") != 0 || r.Fixed("e", 1) != nil ||
		r.VarBytes("f", 9) != nil || r.String("g", 9) != "" {
		t.Fatal("reads after an error returned data")
	}
	r.Failf("h", "later %d", 1)
	if r.Done() != first || r.Offset() != 0 {
		t.Fatalf("error changed to %v, offset %d", r.Err(), r.Offset())
	}
}

func TestFailf(t *testing.T) {
	r := NewReader([]byte{1})
	r.Failf("field", "value %d bad", 5)
	if err := r.Err(); !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "field") || !strings.Contains(err.Error(), "value 5 bad") {
		t.Fatalf("Failf error %v", err)
	}
}

func TestReaderDoesNotModifyInput(t *testing.T) {
	in := []byte{3, 'a', 'b', 'c', 1}
	cp := append([]byte(nil), in...)
	r := NewReader(in)
	r.String("s", 8)
	r.Bool("b")
	if err := r.Done(); err != nil || !bytes.Equal(in, cp) {
		t.Fatalf("input changed or error %v", err)
	}
}

// FuzzReader drives a sequence of reads from the input: each op byte picks a
// read, the rest is data. It must never panic, errors must be sticky, and
// every successful read must re-encode to the bytes it consumed.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, []byte{0x80, 0x01, 1, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{0, 0, 0}, []byte{0x80, 0x00, 0x7f})
	f.Add([]byte{5, 6}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{6, 6}, []byte{2, 0xc3, 0xa9, 1, 0x7f})
	f.Add([]byte{3, 4}, []byte{})
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		r := NewReader(data)
		var prevErr error
		for i, op := range ops {
			if i > 64 {
				break
			}
			start := r.Offset()
			w := NewWriter(0)
			switch op % 8 {
			case 0:
				w.Uint(r.Uint("uint"))
			case 1:
				w.Byte(r.Byte("byte"))
			case 2:
				w.Bool(r.Bool("bool"))
			case 3:
				w.Fixed(r.Fixed("fixed", int(op>>3)))
			case 4:
				var h [32]byte
				r.Hash32("hash", &h)
				w.Fixed(h[:])
			case 5:
				w.VarBytes(r.VarBytes("varbytes", int(op>>3)*8))
			case 6:
				s := r.String("string", int(op>>3)*8)
				if r.Err() == nil && !Printable(s) {
					t.Fatalf("String returned unprintable %q", s)
				}
				w.String(s)
			case 7:
				v := r.UintMax("uintmax", uint64(op>>3))
				if v > uint64(op>>3) {
					t.Fatalf("UintMax returned %d > %d", v, op>>3)
				}
				w.Uint(v)
			}
			if prevErr != nil {
				if r.Err() != prevErr || r.Offset() != start {
					t.Fatalf("error not sticky: %v then %v, offset %d -> %d", prevErr, r.Err(), start, r.Offset())
				}
				continue
			}
			if err := r.Err(); err != nil {
				prevErr = err
				continue
			}
			if got := data[start:r.Offset()]; !bytes.Equal(got, w.Bytes()) {
				t.Fatalf("op %d: consumed %x, re-encodes as %x", op%8, got, w.Bytes())
			}
		}
		if r.Offset() < 0 || r.Offset() > len(data) || r.Remaining() != len(data)-r.Offset() {
			t.Fatalf("offset %d of %d", r.Offset(), len(data))
		}
		err := r.Done()
		if prevErr != nil && err != prevErr {
			t.Fatalf("Done changed the error")
		}
		if prevErr == nil && (err == nil) != (r.Remaining() == 0) {
			t.Fatalf("Done = %v with %d remaining", err, r.Remaining())
		}
	})
}
