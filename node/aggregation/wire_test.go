package aggregation

import (
	"bytes"
	"errors"
	"testing"

	"github.com/polityledger/polity/privacy/he"
)

func TestFrames(t *testing.T) {
	msg := []byte("PHE1 a protocol message")
	k, body, err := decodeFrame(dataFrame(msg))
	if err != nil || k != frameData || !bytes.Equal(body, msg) {
		t.Fatalf("data frame: %d %q %v", k, body, err)
	}
	h := he.MessageHash(msg)
	k, body, err = decodeFrame(ackFrame(h))
	if err != nil || k != frameAck || [32]byte(body) != h {
		t.Fatalf("ack frame: %d %x %v", k, body, err)
	}
	for name, f := range map[string][]byte{
		"empty":         nil,
		"unknown kind":  {9, 1, 2},
		"short ack":     append([]byte{frameAck}, h[:31]...),
		"long ack":      append(ackFrame(h), 0),
		"oversize data": append([]byte{frameData}, make([]byte, he.MaxMessageSize+1)...),
	} {
		if _, _, err := decodeFrame(f); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := decodeFrame(append([]byte{frameData}, make([]byte, he.MaxMessageSize)...)); err != nil {
		t.Errorf("a message of he.MaxMessageSize must pass: %v", err)
	}
}

// FuzzDecodeFrame: frames come from other nodes; decoding must never panic
// and an accepted frame must re-encode to itself.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(dataFrame([]byte("PHE1")))
	f.Add(ackFrame([32]byte{1}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, body, err := decodeFrame(b)
		if err != nil {
			return
		}
		var again []byte
		if k == frameData {
			again = dataFrame(body)
		} else {
			again = ackFrame([32]byte(body))
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}
