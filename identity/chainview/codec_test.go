package chainview

import (
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/identity/vc"
)

// version returns an encoded version n of a fresh organisation DID,
// current over [from, until) milliseconds.
func version(t *testing.T, n, from, until uint64, deactivated bool) (string, []byte) {
	t.Helper()
	s := suites.Default
	auth, _ := s.GenerateKey(rand.Reader)
	subj, _ := s.GenerateKey(rand.Reader)
	authDID := did.KeyDID(chain.AddressOf(s, auth.Public().Bytes())).String()
	doc := &did.Document{ID: did.Derive(s, subj.Public().Bytes()).String(), Type: did.TypeOrganisation,
		VerificationMethods: []did.VerificationMethod{{ID: "key-1", Type: did.KeyType(s.Name()), PublicKey: subj.Public().Bytes()}},
		Authority:           authDID + "#key-0", AuthorityKey: auth.Public().Bytes()}
	if err := doc.SignClaim(auth); err != nil {
		t.Fatal(err)
	}
	v := &registry.Version{Number: n, From: 10, FromTime: from, Deactivated: deactivated, Doc: doc}
	if until != 0 {
		v.Until, v.UntilTime = 20, until
	}
	if _, err := registry.DecodeVersion(v.Encode()); err != nil {
		t.Fatal(err)
	}
	return doc.ID, v.Encode()
}

func TestVersionKeyRoundTrip(t *testing.T) {
	d := "did:polity:" + fmt.Sprintf("%032x", 7)
	for _, n := range []uint64{1, 2, 255, 1 << 40} {
		got, gn, ok := parseVersionKey(registry.VersionStateKey(d, n))
		if !ok || got != d || gn != n {
			t.Fatalf("version %d: %q %d %v", n, got, gn, ok)
		}
	}
	for _, k := range [][]byte{nil, []byte("did\x00v/"), registry.HeadStateKey(d), registry.TrustStateKey(d, "X"), append(registry.VersionStateKey(d, 1), 0)} {
		if _, _, ok := parseVersionKey(k); ok {
			t.Fatalf("%q parsed as a version key", k)
		}
	}
}

func TestBundleCodecRefusesTwoVersions(t *testing.T) {
	d := "did:polity:" + fmt.Sprintf("%032x", 9)
	b := &vc.Bundle{Suite: suites.Default.Name(), State: []vc.ProvenValue{{Key: registry.VersionStateKey(d, 1)}, {Key: registry.VersionStateKey(d, 2)}}}
	if _, err := BundleCodec(b); !errors.Is(err, vc.ErrBundle) {
		t.Fatalf("two versions: %v", err)
	}
	b.State = b.State[1:]
	c, err := BundleCodec(b)
	if err != nil || c.Versions[d] != 2 {
		t.Fatalf("one version: %v %v", c, err)
	}
}

func TestProvenVersionValidityWindow(t *testing.T) {
	const from, until = 1_700_000_000_000, 1_700_000_100_000
	d, val := version(t, 3, from, until, false)
	c := &Codec{Suite: suites.Default, Versions: map[string]uint64{d: 3}}
	r, err := c.DecodeDID(d, val)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ms uint64
		ok bool
	}{{from - 1, false}, {from, true}, {until - 1, true}, {until, false}} {
		_, err := r.KeyAt(d+"#key-1", time.UnixMilli(int64(tc.ms)))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, vc.ErrUnknownKey)) {
			t.Fatalf("at %d: %v, want ok=%v", tc.ms, err, tc.ok)
		}
	}
	if _, err := r.KeyAt(d+"#key-2", time.UnixMilli(from)); !errors.Is(err, vc.ErrUnknownKey) {
		t.Fatalf("missing method: %v", err)
	}
	// The codec must be asked for the version the value holds.
	if _, err := (&Codec{Suite: suites.Default, Versions: map[string]uint64{d: 2}}).DecodeDID(d, val); !errors.Is(err, vc.ErrBundle) {
		t.Fatalf("other version: %v", err)
	}
	if _, err := c.DecodeDID(d, nil); !errors.Is(err, vc.ErrUnknownKey) {
		t.Fatalf("absent: %v", err)
	}
	d2, deact := version(t, 1, from, 0, true)
	r, err = (&Codec{Suite: suites.Default, Versions: map[string]uint64{d2: 1}}).DecodeDID(d2, deact)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.KeyAt(d2+"#key-1", time.UnixMilli(from+5)); !errors.Is(err, vc.ErrUnknownKey) {
		t.Fatalf("deactivated: %v", err)
	}
}

func TestListURL(t *testing.T) {
	issuer := "did:polity:" + fmt.Sprintf("%032x", 1)
	i, id, err := ParseListURL(ListURL(issuer, "diplomas-2026"))
	if err != nil || i != issuer || id != "diplomas-2026" {
		t.Fatalf("%q %q %v", i, id, err)
	}
	for _, bad := range []string{"", "diplomas", issuer, issuer + "/status/", issuer + "/status/-x", "did:web:x/status/a", issuer + "/status/a/b"} {
		if _, _, err := ParseListURL(bad); !errors.Is(err, registry.ErrBadArgs) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	c := &Codec{Suite: suites.Default}
	if _, err := c.DecodeStatus(ListURL(issuer, "a"), 1, vc.PurposeRevocation, [][]byte{nil, nil}); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("absent list: %v", err)
	}
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("credential 1: %w", fmt.Errorf("%w: x", vc.ErrRevoked)): ReasonRevoked,
		fmt.Errorf("vc: key: %w", vc.ErrUnknownKey):                        ReasonUnknownKey,
		vc.ErrBundle:            ReasonBundle,
		errors.New("disk full"): ReasonError,
	} {
		if got := Reason(err); got != want {
			t.Fatalf("%v: %s, want %s", err, got, want)
		}
	}
}
