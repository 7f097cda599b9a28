package registry_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/privacy/zk"
)

// TestZKKeys: only admins publish verifying keys, only the issuer itself
// sets its issuer key, both are validated and versioned.
func TestZKKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("Groth16 setup skipped in -short mode")
	}
	w := newWorld(t, suites[0])
	_, vk, err := zk.InsecureSetup(zk.AgeAtLeast)
	if err != nil {
		t.Fatal(err)
	}
	vkb, err := vk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	pub := func(pred string, key []byte) registry.PublishVerifyingKeyArgs {
		return registry.PublishVerifyingKeyArgs{Predicate: pred, Key: key}
	}
	const mod = registry.ZKKeysModule
	w.fails(w.ministry, mod, registry.MethodPublishVerifyingKey, registry.PublishVerifyingKeyArgs{Predicate: "age-at-least", Key: vkb, As: w.ministryDoc.ID}, registry.ErrNotAuthorised)
	w.fails(w.admin, mod, registry.MethodPublishVerifyingKey, pub("over-18", vkb), registry.ErrBadArgs)
	w.fails(w.admin, mod, registry.MethodPublishVerifyingKey, pub("in-range", vkb), registry.ErrBadArgs) // a key of another predicate
	// A changed body byte may still decode (another valid point), so
	// corrupt the circuit digest of the header (magic 8, predicate 1,
	// digest 32), which always checks.
	bad := bytes.Clone(vkb)
	bad[20] ^= 0xff
	w.fails(w.admin, mod, registry.MethodPublishVerifyingKey, pub("age-at-least", bad), registry.ErrBadArgs)
	w.fails(w.admin, mod, registry.MethodPublishVerifyingKey, pub("age-at-least", nil), registry.ErrBadArgs)
	if _, err := registry.GetZKVerifyingKey(w.read(), zk.AgeAtLeast); err == nil {
		t.Fatal("verifying key found before publication")
	}

	w.ok(w.admin, mod, registry.MethodPublishVerifyingKey, pub("age-at-least", vkb))
	e, err := registry.GetZKVerifyingKey(w.read(), zk.AgeAtLeast)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := vk.Hash()
	if e.Hash != h || !bytes.Equal(e.Key, vkb) || e.Version != 1 || e.By != w.adminDID || e.Height != w.height {
		t.Fatalf("entry %+v", e)
	}
	w.fails(w.admin, mod, registry.MethodPublishVerifyingKey, pub("age-at-least", vkb), registry.ErrUnchanged)
	if _, err := registry.GetZKVerifyingKey(w.read(), zk.InRange); err == nil {
		t.Fatal("in-range key found, none published")
	}

	// Issuer keys: the issuer's own, as its DID.
	ik, _ := zk.GenerateIssuerKey(rand.Reader)
	ik2, _ := zk.GenerateIssuerKey(rand.Reader)
	iss := w.ministryDoc.ID
	set := func(k *zk.IssuerKey) registry.SetIssuerKeyArgs {
		p := k.Public()
		return registry.SetIssuerKeyArgs{Issuer: iss, Key: p[:]}
	}
	w.fails(w.admin, mod, registry.MethodSetIssuerKey, set(ik), registry.ErrNotSigner) // not the issuer's key
	w.fails(w.ministry, mod, registry.MethodSetIssuerKey, registry.SetIssuerKeyArgs{Issuer: iss, Key: make([]byte, 32)}, registry.ErrBadArgs)
	w.fails(w.ministry, mod, registry.MethodSetIssuerKey, registry.SetIssuerKeyArgs{Issuer: iss, Key: []byte{1, 2, 3}}, registry.ErrBadArgs)
	w.ok(w.ministry, mod, registry.MethodSetIssuerKey, set(ik))
	got, err := registry.GetZKIssuerKey(w.read(), iss)
	if err != nil || got.Key != ik.Public() || got.Version != 1 {
		t.Fatalf("issuer key %+v, %v", got, err)
	}
	w.fails(w.ministry, mod, registry.MethodSetIssuerKey, set(ik), registry.ErrUnchanged)
	w.ok(w.ministry, mod, registry.MethodSetIssuerKey, set(ik2))
	if got, err = registry.GetZKIssuerKey(w.read(), iss); err != nil || got.Key != ik2.Public() || got.Version != 2 {
		t.Fatalf("rotated issuer key %+v, %v", got, err)
	}
	if _, err := registry.GetZKIssuerKey(w.read(), w.personDoc.ID); err == nil {
		t.Fatal("issuer key for a DID that set none")
	}

	// Stored entries decode strictly.
	raw := w.state[string(registry.ZKIssuerKeyStateKey(iss))]
	if _, err := registry.DecodeZKIssuerKey(append(bytes.Clone(raw), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	raw = w.state[string(registry.ZKVerifyingKeyStateKey("age-at-least"))]
	tampered := bytes.Clone(raw)
	tampered[len(tampered)/2] ^= 1 // inside the key: the stored hash no longer matches
	if _, err := registry.DecodeZKVerifyingKey(tampered); err == nil {
		t.Fatal("entry with a wrong hash accepted")
	}
}
