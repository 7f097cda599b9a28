package chain

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/codec"
)

func decodeReceiptErr(b []byte) error { _, err := DecodeReceipt(b); return err }

func TestReceiptRoundTrip(t *testing.T) {
	s := edSuite
	max := &Receipt{TxID: s.Hash([]byte("max")), Status: StatusOK, Error: strings.Repeat("e", MaxErrorLen), WorkUsed: ^uint64(0)}
	for i := 0; i < MaxEvents; i++ {
		e := Event{Type: strings.Repeat("t", MaxNameLen)}
		if i == 0 {
			for j := 0; j < MaxAttrs; j++ {
				e.Attrs = append(e.Attrs, Attr{Key: strings.Repeat("k", MaxNameLen), Value: strings.Repeat("v", MaxAttrValue)})
			}
		}
		max.Events = append(max.Events, e)
	}
	for _, rc := range []*Receipt{{}, {TxID: s.Hash([]byte("ok")), WorkUsed: 7}, testReceipt(s), max} {
		enc := rc.Encode()
		if enc[0] != ReceiptVersion {
			t.Fatalf("version byte %d", enc[0])
		}
		got, err := DecodeReceipt(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, rc) {
			t.Fatalf("decoded %+v, want %+v", got, rc)
		}
		if !bytes.Equal(got.Encode(), enc) {
			t.Fatal("re-encoding differs")
		}
		mustFailPrefixes(t, enc, decodeReceiptErr)
	}
}

func TestDecodeReceiptStrict(t *testing.T) {
	base := testReceipt(edSuite)
	with := func(f func(rc *Receipt)) []byte {
		rc := *base
		rc.Events = append([]Event(nil), base.Events...)
		f(&rc)
		return rc.Encode()
	}
	badVersion := base.Encode()
	badVersion[0] = 0
	tests := []struct {
		name string
		enc  []byte
		want error
	}{
		{"version 0", badVersion, codec.ErrBadValue},
		{"status 2", with(func(rc *Receipt) { rc.Status = 2 }), codec.ErrBadValue},
		{"status 255", with(func(rc *Receipt) { rc.Status = 255 }), codec.ErrBadValue},
		{"error too long", with(func(rc *Receipt) { rc.Error = strings.Repeat("e", MaxErrorLen+1) }), codec.ErrTooLong},
		{"error unprintable", with(func(rc *Receipt) { rc.Error = "line\nbreak" }), codec.ErrBadString},
		{"too many events", with(func(rc *Receipt) { rc.Events = make([]Event, MaxEvents+1) }), codec.ErrTooLong},
		{"event type too long", with(func(rc *Receipt) { rc.Events[1] = Event{Type: strings.Repeat("t", MaxNameLen+1)} }), codec.ErrTooLong},
		{"too many attrs", with(func(rc *Receipt) { rc.Events[1] = Event{Type: "x", Attrs: make([]Attr, MaxAttrs+1)} }), codec.ErrTooLong},
		{"attr key too long", with(func(rc *Receipt) {
			rc.Events[1] = Event{Type: "x", Attrs: []Attr{{Key: strings.Repeat("k", MaxNameLen+1)}}}
		}), codec.ErrTooLong},
		{"attr value too long", with(func(rc *Receipt) {
			rc.Events[1] = Event{Type: "x", Attrs: []Attr{{Key: "k", Value: strings.Repeat("v", MaxAttrValue+1)}}}
		}), codec.ErrTooLong},
		{"attr value invalid utf-8", with(func(rc *Receipt) { rc.Events[1] = Event{Type: "x", Attrs: []Attr{{Key: "k", Value: "\xc3"}}} }), codec.ErrBadString},
		{"empty", nil, codec.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := DecodeReceipt(tc.enc)
			if err == nil || rc != nil {
				t.Fatalf("accepted %+v", rc)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	for st, want := range map[Status]string{StatusOK: "ok", StatusFailed: "failed", 7: "status(7)"} {
		if st.String() != want {
			t.Errorf("Status(%d) = %q, want %q", uint8(st), st.String(), want)
		}
	}
}
