package registry_test

import (
	"fmt"
	"testing"

	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
)

// BenchmarkResolveAt: resolving at a height over a DID with v versions.
func BenchmarkResolveAt(b *testing.B) {
	for _, versions := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("versions=%d", versions), func(b *testing.B) {
			w := newWorld(b, suites[0])
			cur, signer := clone(w.personDoc), w.person
			for i := 1; i < versions; i++ {
				next := w.key()
				cur = clone(cur)
				cur.VerificationMethods = []did.VerificationMethod{{ID: fmt.Sprintf("key-%d", i+1), Type: did.KeyTypeEd25519, PublicKey: next.Public().Bytes()}}
				w.ok(signer, "did", "update", updateArgs(b, cur, ""))
				signer = next
			}
			read := w.read()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h := w.personRegisteredH + uint64(i)%uint64(versions)
				if _, err := registry.ResolveAt(read, cur.ID, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTx: executing one identity transaction (serial executor, one
// per block), by suite.
func BenchmarkTx(b *testing.B) {
	for _, s := range suites {
		b.Run("register/"+s.Name(), func(b *testing.B) {
			w := newWorld(b, s)
			type job struct{ args registry.RegisterArgs }
			jobs := make([]job, b.N)
			for i := range jobs {
				k := w.key()
				jobs[i].args = w.registerArgs(w.newDoc(did.TypeDevice, k, w.ministryDoc.ID+"#key-1", w.ministry), k)
			}
			b.ResetTimer()
			for i := range jobs {
				w.ok(w.ministry, "did", "register", jobs[i].args)
			}
		})
		b.Run("status.set/"+s.Name(), func(b *testing.B) {
			w := newWorld(b, s)
			iss := w.ministryDoc.ID
			w.ok(w.ministry, "status", "create", registry.CreateArgs{ID: "l", Purpose: registry.PurposeRevocation, Size: registry.MaxListBits, CredentialType: "CitizenID", As: iss})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.ok(w.ministry, "status", "set", registry.SetArgs{ID: "l", Index: uint64(i*7919) % registry.MaxListBits, Action: registry.ActionRevoke, As: iss})
			}
		})
	}
}
