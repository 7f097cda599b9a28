package member

import (
	"bytes"
	"testing"
)

func TestSetEndedRoundTrip(t *testing.T) {
	tag := setTag{1, 2, 3, 4, 5, 6, 7, 8}
	msg := encodeEnded(tag, 300)
	if msg[0] != kindSetEnded {
		t.Fatalf("kind %x", msg[0])
	}
	got, head, err := decodeEnded(msg[1:])
	if err != nil || got != tag || head != 300 {
		t.Fatalf("decoded %x %d %v", got, head, err)
	}
	for _, bad := range [][]byte{msg[1:5], append(bytes.Clone(msg[1:]), 0), append(bytes.Clone(msg[1:len(msg)-2]), 0x80, 0x00)} {
		if _, _, err := decodeEnded(bad); err == nil {
			t.Fatalf("accepted %x", bad)
		}
	}
}

// FuzzDecodeEnded: a notice decodes only in its canonical form.
func FuzzDecodeEnded(f *testing.F) {
	f.Add(encodeEnded(setTag{9}, 0)[1:])
	f.Add(encodeEnded(setTag{1, 2, 3, 4, 5, 6, 7, 8}, 1<<40)[1:])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, body []byte) {
		tag, head, err := decodeEnded(body)
		if err != nil {
			return
		}
		if again := encodeEnded(tag, head); !bytes.Equal(again[1:], body) {
			t.Fatalf("%x decodes but encodes as %x", body, again[1:])
		}
	})
}
