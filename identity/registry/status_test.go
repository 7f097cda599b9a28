package registry_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/identity/registry"
)

func TestStatusLists(t *testing.T) {
	s := suites[0]
	w := newWorld(t, s)
	iss := w.ministryDoc.ID
	create := func(id, purpose string) registry.CreateArgs {
		return registry.CreateArgs{ID: id, Purpose: purpose, Size: registry.MinListBits, CredentialType: "CitizenID", As: iss}
	}
	w.ok(w.ministry, "status", "create", create("rev-1", registry.PurposeRevocation))
	w.ok(w.ministry, "status", "create", create("sus-1", registry.PurposeSuspension))
	bit := func(id string, i uint64) bool {
		t.Helper()
		b, err := registry.StatusBit(w.read(), iss, id, i)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	set := func(id string, i uint64, action string) {
		t.Helper()
		w.ok(w.ministry, "status", "set", registry.SetArgs{ID: id, Index: i, Action: action, As: iss})
	}
	for _, i := range []uint64{0, 7, 4095, 4096, registry.MinListBits - 1} {
		set("rev-1", i, registry.ActionRevoke)
	}
	set("rev-1", 7, registry.ActionRevoke) // idempotent
	for _, i := range []uint64{0, 7, 4095, 4096, registry.MinListBits - 1} {
		if !bit("rev-1", i) {
			t.Fatalf("bit %d not set", i)
		}
	}
	if bit("rev-1", 1) || bit("rev-1", 8191) || bit("sus-1", 0) {
		t.Fatal("unset bit reads set")
	}

	// Proven-value path: one chunk (or its absence) answers one index.
	chunk := w.state[string(registry.ChunkStateKey(iss, "rev-1", 4096))]
	if b, err := registry.ChunkBit(chunk, 4096); err != nil || !b || len(chunk) != registry.ChunkBytes {
		t.Fatalf("ChunkBit = %v, %v", b, err)
	}
	if _, ok := w.state[string(registry.ChunkStateKey(iss, "rev-1", 10000))]; ok {
		t.Fatal("untouched chunk stored")
	}
	if b, err := registry.ChunkBit(nil, 10000); err != nil || b {
		t.Fatal("absent chunk is not all zeros")
	}

	// The assembled bitstring follows the spec's bit order and encoding.
	bits, err := registry.Bitstring(w.read(), iss, "rev-1")
	if err != nil || len(bits) != registry.MinListBits/8 {
		t.Fatalf("Bitstring: %d bytes, %v", len(bits), err)
	}
	if bits[0] != 0x81 || bits[511] != 0x01 || bits[512] != 0x80 || bits[len(bits)-1] != 0x01 {
		t.Fatalf("bit order: % x ... % x", bits[:2], bits[len(bits)-2:])
	}
	enc, err := registry.EncodeList(bits)
	if err != nil || enc[0] != 'u' {
		t.Fatal(enc, err)
	}
	gz, err := base64.RawURLEncoding.DecodeString(enc[1:])
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if back, err := io.ReadAll(zr); err != nil || !bytes.Equal(back, bits) {
		t.Fatal("encodedList does not decode to the bitstring")
	}

	// Suspension can be lifted; the chunk goes when it is all zeros again.
	set("sus-1", 42, registry.ActionSuspend)
	if !bit("sus-1", 42) {
		t.Fatal("not suspended")
	}
	set("sus-1", 42, registry.ActionUnsuspend)
	if bit("sus-1", 42) {
		t.Fatal("still suspended")
	}
	if _, ok := w.state[string(registry.ChunkStateKey(iss, "sus-1", 42))]; ok {
		t.Fatal("all-zero chunk kept")
	}

	stranger := w.key()
	tests := []struct {
		name   string
		signer crypto.PrivateKey
		method string
		args   any
		want   error
	}{
		{"unrevoke", w.ministry, "set", registry.SetArgs{ID: "rev-1", Index: 0, Action: registry.ActionUnsuspend, As: iss}, registry.ErrRevocationFinal},
		{"suspend on revocation list", w.ministry, "set", registry.SetArgs{ID: "rev-1", Index: 1, Action: registry.ActionSuspend, As: iss}, registry.ErrBadAction},
		{"revoke on suspension list", w.ministry, "set", registry.SetArgs{ID: "sus-1", Index: 1, Action: registry.ActionRevoke, As: iss}, registry.ErrBadAction},
		{"unknown action", w.ministry, "set", registry.SetArgs{ID: "sus-1", Index: 1, Action: "flip", As: iss}, registry.ErrBadAction},
		{"index out of range", w.ministry, "set", registry.SetArgs{ID: "rev-1", Index: registry.MinListBits, Action: registry.ActionRevoke, As: iss}, registry.ErrBadIndex},
		{"not the issuer", stranger, "set", registry.SetArgs{ID: "rev-1", Index: 1, Action: registry.ActionRevoke}, registry.ErrNotFound},
		{"posing as the issuer", stranger, "set", registry.SetArgs{ID: "rev-1", Index: 1, Action: registry.ActionRevoke, As: iss}, registry.ErrNotSigner},
		{"unknown list", w.ministry, "set", registry.SetArgs{ID: "nope", Index: 1, Action: registry.ActionRevoke, As: iss}, registry.ErrNotFound},
		{"duplicate list", w.ministry, "create", create("rev-1", registry.PurposeRevocation), registry.ErrExists},
		{"untrusted issuer", stranger, "create", registry.CreateArgs{ID: "x", Purpose: registry.PurposeRevocation, Size: registry.MinListBits, CredentialType: "CitizenID"}, registry.ErrNotTrusted},
		{"untrusted type", w.ministry, "create", registry.CreateArgs{ID: "x", Purpose: registry.PurposeRevocation, Size: registry.MinListBits, CredentialType: "Diploma", As: iss}, registry.ErrNotTrusted},
		{"too small", w.ministry, "create", registry.CreateArgs{ID: "x", Purpose: registry.PurposeRevocation, Size: registry.MinListBits - registry.ChunkBits, CredentialType: "CitizenID", As: iss}, registry.ErrBadArgs},
		{"not chunk multiple", w.ministry, "create", registry.CreateArgs{ID: "x", Purpose: registry.PurposeRevocation, Size: registry.MinListBits + 8, CredentialType: "CitizenID", As: iss}, registry.ErrBadArgs},
		{"too large", w.ministry, "create", registry.CreateArgs{ID: "x", Purpose: registry.PurposeRevocation, Size: registry.MaxListBits + registry.ChunkBits, CredentialType: "CitizenID", As: iss}, registry.ErrBadArgs},
		{"bad purpose", w.ministry, "create", registry.CreateArgs{ID: "x", Purpose: "refresh", Size: registry.MinListBits, CredentialType: "CitizenID", As: iss}, registry.ErrBadArgs},
		{"bad id", w.ministry, "create", registry.CreateArgs{ID: "-x/", Purpose: registry.PurposeRevocation, Size: registry.MinListBits, CredentialType: "CitizenID", As: iss}, registry.ErrBadArgs},
		{"negative size", w.ministry, "create", []byte(`{"id":"x","purpose":"revocation","size":-1,"credential_type":"CitizenID"}`), registry.ErrBadArgs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := w.fork()
			f.t = t
			f.fails(tc.signer, "status", tc.method, tc.args, tc.want)
		})
	}
	if _, err := registry.StatusBit(w.read(), iss, "rev-1", registry.MinListBits); err == nil {
		t.Fatal("StatusBit read past the list")
	}
}
