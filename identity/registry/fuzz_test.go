package registry_test

import (
	"bytes"
	"testing"

	"github.com/polityledger/polity/identity/registry"
)

// FuzzDecodeStored: the decoders of stored values (which a verifier feeds
// with proven, but possibly hostile, bytes) never panic, and a decoded
// version re-encodes to its input.
func FuzzDecodeStored(f *testing.F) {
	w := newWorld(f, suites[0])
	for k, v := range w.state {
		f.Add([]byte(k), v)
	}
	f.Fuzz(func(t *testing.T, key, b []byte) {
		if v, err := registry.DecodeVersion(b); err == nil && !bytes.Equal(v.Encode(), b) {
			t.Fatal("version: non-canonical encoding accepted")
		}
		_, _ = registry.DecodeList(b)
		_, _ = registry.DecodeGrant(b)
		_, _ = registry.DocumentAt(string(key), 5, 10, b)
		_, _ = registry.ChunkBit(b, uint64(len(key)))
	})
}
