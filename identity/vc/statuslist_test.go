package vc

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"testing"
)

// specExample is the encodedList of the examples in W3C Bitstring Status
// List v1.0 section 2.2: 131,072 zero bits.
const specExample = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"

func TestStatusListSpecExample(t *testing.T) {
	l, err := DecodeStatusList(specExample)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != MinListBits || !bytes.Equal(l.Bytes(), make([]byte, MinListBits/8)) {
		t.Fatalf("len %d", l.Len())
	}
}

func TestStatusListBitOrder(t *testing.T) {
	l, _ := NewStatusList(MinListBits)
	for _, i := range []uint64{0, 9, MinListBits - 1} {
		if err := l.Set(i, true); err != nil {
			t.Fatal(err)
		}
	}
	b := l.Bytes()
	// Bit 0 is the left-most bit of byte 0; bit 9 the second of byte 1.
	if b[0] != 0x80 || b[1] != 0x40 || b[len(b)-1] != 0x01 {
		t.Fatalf("bytes %x %x %x", b[0], b[1], b[len(b)-1])
	}
	got, err := DecodeStatusList(l.Encode())
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 16; i++ {
		v, _ := got.Get(i)
		if v != (i == 0 || i == 9) {
			t.Fatalf("bit %d = %v", i, v)
		}
	}
	if err := got.Set(9, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Get(9); v {
		t.Fatal("bit 9 still set")
	}
	if _, err := got.Get(MinListBits); !errors.Is(err, ErrMalformed) {
		t.Fatalf("get past end: %v", err)
	}
	if err := got.Set(MinListBits, true); !errors.Is(err, ErrMalformed) {
		t.Fatalf("set past end: %v", err)
	}
}

func gz(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStatusListRejects(t *testing.T) {
	ok := gz(t, make([]byte, MinListBits/8))
	enc := base64.RawURLEncoding.EncodeToString
	cases := map[string]string{
		"no prefix":        enc(ok),
		"base58 prefix":    "z" + enc(ok),
		"padded":           "u" + base64.URLEncoding.EncodeToString(ok),
		"std alphabet":     "u" + base64.RawStdEncoding.EncodeToString(append(ok, 0xfb, 0xff)),
		"not gzip":         "u" + enc([]byte("hello, world")),
		"too short":        "u" + enc(gz(t, make([]byte, MinListBits/8-1))),
		"zip bomb":         "u" + enc(gz(t, make([]byte, MaxListBits/8+1))),
		"two members":      "u" + enc(append(append([]byte{}, ok...), ok...)),
		"trailing garbage": "u" + enc(append(append([]byte{}, ok...), 0)),
		"truncated":        "u" + enc(ok[:len(ok)-4]),
		"empty":            "",
	}
	for name, s := range cases {
		if _, err := DecodeStatusList(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want %v", name, err, ErrMalformed)
		}
	}
	if _, err := NewStatusList(MinListBits - 1); !errors.Is(err, ErrMalformed) {
		t.Errorf("short new list: %v", err)
	}
}
