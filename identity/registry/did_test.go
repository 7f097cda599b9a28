package registry_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
)

var suites = []crypto.Suite{ed25519sha256.New(), sm2sm3.New()}

func TestRegisterAndRotate(t *testing.T) {
	for _, s := range suites {
		t.Run(s.Name(), func(t *testing.T) {
			w := newWorld(t, s)
			v, err := registry.Resolve(w.read(), w.personDoc.ID)
			if err != nil || v.Number != 1 || v.Doc.Authority != w.ministryDoc.ID+"#key-1" || v.Until != 0 {
				t.Fatalf("Resolve = %+v, %v", v, err)
			}
			oldKey := w.person
			hOld := w.height

			// Rotate key-1 to key-2, signed by key-1.
			next := w.key()
			doc := clone(w.personDoc)
			doc.VerificationMethods = []did.VerificationMethod{{ID: "key-2", Type: did.KeyType(s.Name()), PublicKey: next.Public().Bytes()}}
			doc.Services = []did.Service{{ID: "inbox", Type: "DIDCommMessaging", Endpoint: "https://wallet.example/ada"}}
			w.ok(oldKey, "did", "update", updateArgs(t, doc, ""))
			hNew := w.height

			// The rotated-out key no longer acts for the DID.
			again := clone(doc)
			again.Services = nil
			w.fork().fails(oldKey, "did", "update", updateArgs(t, again, ""), registry.ErrNotSigner)
			w.fork().ok(next, "did", "update", updateArgs(t, again, ""))

			// History: last year's signature verifies against last year's key.
			vm, err := registry.KeyAt(w.read(), w.personDoc.ID+"#key-1", hOld)
			if err != nil || !bytes.Equal(vm.PublicKey, oldKey.Public().Bytes()) {
				t.Fatalf("KeyAt(old) = %+v, %v", vm, err)
			}
			if _, err := registry.KeyAt(w.read(), w.personDoc.ID+"#key-1", hNew); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("rotated-out key still current: %v", err)
			}
			vm, err = registry.KeyAt(w.read(), w.personDoc.ID+"#key-2", hNew)
			if err != nil || !bytes.Equal(vm.PublicKey, next.Public().Bytes()) {
				t.Fatalf("KeyAt(new) = %+v, %v", vm, err)
			}
			if _, err := registry.ResolveAt(w.read(), w.personDoc.ID, w.personRegisteredH-1); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("resolved before registration: %v", err)
			}

			// A verifier given one proven version value.
			old, err := registry.ResolveAt(w.read(), w.personDoc.ID, hOld)
			if err != nil || old.Number != 1 || old.Until != hNew {
				t.Fatalf("ResolveAt(old) = %+v, %v", old, err)
			}
			val := w.state[string(registry.VersionStateKey(w.personDoc.ID, old.Number))]
			got, err := registry.DocumentAt(w.personDoc.ID, hOld, w.height, val)
			if err != nil || !bytes.Equal(got.Doc.Encode(), w.personDoc.Encode()) {
				t.Fatalf("DocumentAt = %+v, %v", got, err)
			}
			if _, err := registry.DocumentAt(w.personDoc.ID, hNew, w.height, val); !errors.Is(err, registry.ErrNotAtHeight) {
				t.Fatalf("old version accepted for the new height: %v", err)
			}
			if _, err := registry.DocumentAt(w.ministryDoc.ID, hOld, w.height, val); !errors.Is(err, registry.ErrNotAtHeight) {
				t.Fatalf("version accepted for another DID: %v", err)
			}
			if _, err := registry.DocumentAt(w.personDoc.ID, w.height+1, w.height, val); !errors.Is(err, registry.ErrNotAtHeight) {
				t.Fatalf("height after the proof accepted: %v", err)
			}

			// Deactivation ends the DID; earlier heights still resolve.
			w.ok(next, "did", "deactivate", registry.DeactivateArgs{DID: w.personDoc.ID})
			hDead := w.height
			w.fork().fails(next, "did", "update", updateArgs(t, again, ""), registry.ErrDeactivated)
			w.fork().fails(next, "did", "deactivate", registry.DeactivateArgs{DID: w.personDoc.ID}, registry.ErrDeactivated)
			if v, err := registry.ResolveAt(w.read(), w.personDoc.ID, hDead); err != nil || !v.Deactivated || v.Number != 3 {
				t.Fatalf("ResolveAt(deactivated) = %+v, %v", v, err)
			}
			if _, err := registry.KeyAt(w.read(), w.personDoc.ID+"#key-2", hDead); !errors.Is(err, registry.ErrDeactivated) {
				t.Fatalf("key of a deactivated DID: %v", err)
			}
			if _, err := registry.KeyAt(w.read(), w.personDoc.ID+"#key-2", hNew); err != nil {
				t.Fatalf("key before deactivation: %v", err)
			}
			// Re-registering a deactivated DID is refused.
			w.fails(w.ministry, "did", "register", w.registerArgs(w.personDoc, oldKey), registry.ErrExists)
		})
	}
}

// TestResolveAtManyVersions checks the binary search against every height.
func TestResolveAtManyVersions(t *testing.T) {
	w := newWorld(t, suites[0])
	cur := clone(w.personDoc)
	signer := w.person
	starts := []uint64{w.personRegisteredH}
	for i := 0; i < 9; i++ {
		if i%3 == 0 { // leave blocks without updates in between
			w.ok(w.admin, "trust", "set", registry.TrustArgs{Issuer: w.ministryDoc.ID, CredentialType: "T" + string(rune('a'+i))})
		}
		next := w.key()
		cur = clone(cur)
		cur.VerificationMethods = []did.VerificationMethod{{ID: "key-" + string(rune('a'+i)), Type: did.KeyTypeEd25519, PublicKey: next.Public().Bytes()}}
		w.ok(signer, "did", "update", updateArgs(t, cur, ""))
		signer = next
		starts = append(starts, w.height)
	}
	for h := uint64(0); h <= w.height; h++ {
		v, err := registry.ResolveAt(w.read(), cur.ID, h)
		want := 0
		for i, s := range starts {
			if s <= h {
				want = i + 1
			}
		}
		if want == 0 {
			if !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("height %d: %+v, %v", h, v, err)
			}
			continue
		}
		if err != nil || v.Number != uint64(want) {
			t.Fatalf("height %d: got %+v, %v; want version %d", h, v, err, want)
		}
	}
}

func TestDIDErrors(t *testing.T) {
	for _, s := range suites {
		w := newWorld(t, s)
		stranger := w.key()
		subj := w.key()
		good := w.newDoc(did.TypeDevice, subj, w.ministryDoc.ID+"#key-1", w.ministry)
		wrongSig := w.registerArgs(good, subj)
		wrongSig.RegistrationSig, _ = good.SignRegistration(stranger)
		tampered := clone(good)
		tampered.Attributes["name"] = "someone else"
		notRegistrar := w.key()
		notRegistrarDoc := w.newDoc(did.TypeDevice, subj, keyDID(s, notRegistrar)+"#key-0", notRegistrar)
		badDerive := clone(good)
		badDerive.ID = did.Derive(s, stranger.Public().Bytes()).String()
		_ = badDerive.SignClaim(w.ministry)
		missingMethod := clone(good)
		missingMethod.Authority = w.ministryDoc.ID + "#key-9"
		_ = missingMethod.SignClaim(w.ministry)
		withGhostController := clone(good)
		withGhostController.Controller = did.Derive(s, stranger.Public().Bytes()).String()
		_ = withGhostController.SignClaim(w.ministry)

		changedType := clone(w.personDoc)
		changedType.Type = did.TypeDevice
		newClaim := clone(w.personDoc)
		newClaim.Attributes["name"] = "forged"
		reattested := clone(newClaim)
		_ = reattested.SignClaim(w.ministry)
		controlled := clone(w.personDoc)
		controlled.Services = []did.Service{{ID: "s", Type: "X", Endpoint: "https://x.example"}}

		tests := []struct {
			name   string
			signer crypto.PrivateKey
			method string
			args   any
			want   error
		}{
			{"malformed args", w.ministry, "register", []byte(`{"document":1}`), did.ErrInvalid},
			{"unknown field", w.ministry, "register", []byte(`{"x":1}`), registry.ErrBadArgs},
			{"trailing data", w.ministry, "deactivate", []byte(`{"did":"x"} {}`), registry.ErrBadArgs},
			{"duplicate", w.ministry, "register", w.registerArgs(w.personDoc, w.person), registry.ErrExists},
			{"bad registration sig", w.ministry, "register", wrongSig, did.ErrBadSignature},
			{"id not derived from initial key", w.ministry, "register", w.registerArgs(badDerive, subj), did.ErrInvalid},
			{"tampered claim", w.ministry, "register", w.registerArgs(tampered, subj), did.ErrBadSignature},
			{"signer is not the authority", stranger, "register", w.registerArgs(good, subj), registry.ErrNotSigner},
			{"authority not registrar", notRegistrar, "register", w.registerArgs(notRegistrarDoc, subj), registry.ErrNotAuthorised},
			{"authority method missing", w.ministry, "register", w.registerArgs(missingMethod, subj), registry.ErrBadAuthority},
			{"controller not registered", w.ministry, "register", w.registerArgs(withGhostController, subj), registry.ErrNotFound},
			{"update by stranger", stranger, "update", updateArgs(t, controlled, ""), registry.ErrNotSigner},
			{"update as unrelated DID", w.ministry, "update", updateArgs(t, controlled, w.ministryDoc.ID), registry.ErrNotAuthorised},
			{"update changes type", w.person, "update", updateArgs(t, changedType, ""), registry.ErrImmutable},
			{"update changes claim unsigned", w.person, "update", updateArgs(t, newClaim, ""), did.ErrBadSignature},
			{"update changes nothing", w.person, "update", updateArgs(t, w.personDoc, ""), registry.ErrUnchanged},
			{"update unknown DID", w.person, "update", updateArgs(t, good, ""), registry.ErrNotFound},
			{"deactivate by stranger", stranger, "deactivate", registry.DeactivateArgs{DID: w.personDoc.ID}, registry.ErrNotSigner},
			{"deactivate as non-registrar", stranger, "deactivate", registry.DeactivateArgs{DID: w.personDoc.ID, As: keyDID(s, stranger)}, registry.ErrNotAuthorised},
			{"deactivate bad DID", w.person, "deactivate", registry.DeactivateArgs{DID: "did:polity:x"}, registry.ErrBadArgs},
		}
		for _, tc := range tests {
			t.Run(s.Name()+"/"+tc.name, func(t *testing.T) {
				f := w.fork()
				f.t = t
				f.fails(tc.signer, "did", tc.method, tc.args, tc.want)
			})
		}
		t.Run(s.Name()+"/reattested claim", func(t *testing.T) {
			f := w.fork()
			f.t = t
			f.ok(w.person, "did", "update", updateArgs(t, reattested, ""))
		})
		t.Run(s.Name()+"/registrar deactivates", func(t *testing.T) {
			f := w.fork()
			f.t = t
			f.ok(w.ministry, "did", "deactivate", registry.DeactivateArgs{DID: w.personDoc.ID, As: w.ministryDoc.ID})
		})
	}
}

func TestController(t *testing.T) {
	w := newWorld(t, suites[0])
	// A device controlled by the person: the person's key may update it.
	dev := w.key()
	d := w.newDoc(did.TypeDevice, dev, w.ministryDoc.ID+"#key-1", w.ministry)
	d.Controller = w.personDoc.ID
	_ = d.SignClaim(w.ministry)
	w.ok(w.ministry, "did", "register", w.registerArgs(d, dev))
	up := clone(d)
	up.Services = []did.Service{{ID: "telemetry", Type: "Telemetry", Endpoint: "mqtts://broker.example/dev"}}
	w.fork().fails(w.person, "did", "update", updateArgs(t, up, ""), registry.ErrNotSigner)
	w.ok(w.person, "did", "update", updateArgs(t, up, w.personDoc.ID))
	// Once the controller is deactivated its keys act for nothing.
	w.ok(w.person, "did", "deactivate", registry.DeactivateArgs{DID: w.personDoc.ID})
	up2 := clone(up)
	up2.Services = nil
	w.fails(w.person, "did", "update", updateArgs(t, up2, w.personDoc.ID), registry.ErrDeactivated)
	w.ok(dev, "did", "update", updateArgs(t, up2, ""))
}
