package ed25519sha256

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

// batchCorpus mixes valid signatures with every kind of failure a batch
// must single out: wrong message, flipped signature bits, non-canonical S,
// a signature under another key, a short signature.
func batchCorpus(t testing.TB, n int, seed uint64) ([]crypto.SigItem, []bool) {
	t.Helper()
	s := New()
	rng := rand.New(rand.NewPCG(seed, 0))
	var items []crypto.SigItem
	var want []bool
	for i := 0; i < n; i++ {
		var seedBytes [32]byte
		for j := range seedBytes {
			seedBytes[j] = byte(rng.Uint32())
		}
		priv, err := s.PrivateKey(seedBytes[:])
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Appendf(nil, "message %d", i)
		sig, _ := priv.Sign(msg)
		it := crypto.SigItem{Key: priv.Public(), Msg: msg, Sig: sig}
		ok := true
		switch rng.IntN(8) {
		case 0:
			it.Msg = append(bytes.Clone(msg), 'x')
			ok = false
		case 1:
			it.Sig = bytes.Clone(sig)
			it.Sig[rng.IntN(64)] ^= 1 << rng.IntN(8)
			ok = false
		case 2: // S + L is the same scalar, non-canonically encoded: RFC 8032 rejects it
			it.Sig = bytes.Clone(sig)
			addL(it.Sig[32:])
			ok = false
		case 3:
			it.Sig = sig[:63]
			ok = false
		}
		items = append(items, it)
		want = append(want, ok)
	}
	return items, want
}

// addL adds the group order L to the little-endian scalar s in place.
func addL(s []byte) {
	l := [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	carry := 0
	for i := range s {
		v := int(s[i]) + int(l[i]) + carry
		s[i], carry = byte(v), v>>8
	}
}

func TestBatchAgreesWithSingle(t *testing.T) {
	s := Suite{}
	for _, n := range []int{0, 1, 2, 7, 64, 300} {
		items, want := batchCorpus(t, n, uint64(n))
		got := verifyBatch(items, nil)
		for i := range items {
			single := uncachedVerify(items[i])
			if got[i] != want[i] || single != want[i] {
				t.Fatalf("n=%d item %d: batch %v, single %v, want %v", n, i, got[i], single, want[i])
			}
		}
		// Through the cache, twice: the second pass answers from it.
		for range 2 {
			if cached := s.VerifyBatch(items); !slices.Equal(cached, want) {
				t.Fatalf("n=%d: batch through the cache says %v, want %v", n, cached, want)
			}
		}
		all := crypto.VerifyAll(s, items)
		if !slices.Equal(all, got) {
			t.Fatalf("n=%d: VerifyAll differs from VerifyBatch", n)
		}
	}
}

func TestBatchAllValid(t *testing.T) {
	s := Suite{}
	items, _ := batchCorpus(t, 100, 1)
	for i := range items { // re-sign every item validly
		priv, _ := s.GenerateKey(nil)
		items[i].Key = priv.Public()
		items[i].Sig, _ = priv.Sign(items[i].Msg)
	}
	for i, ok := range verifyBatch(items, nil) {
		if !ok {
			t.Fatalf("valid item %d rejected", i)
		}
	}
}

// TestHonestSignaturesAsStdlib: for signatures honest signers make, the
// cofactored rule and Go's cofactorless crypto/ed25519 agree.
func TestHonestSignaturesAsStdlib(t *testing.T) {
	items, _ := batchCorpus(t, 200, 7)
	for i, it := range items {
		if std := len(it.Sig) == 64 && ed25519.Verify(it.Key.Bytes(), it.Msg, it.Sig); std != uncachedVerify(it) {
			t.Fatalf("item %d: stdlib %v, suite %v", i, std, !std)
		}
	}
}

func TestBatchForeignKeyFails(t *testing.T) {
	items, _ := batchCorpus(t, 3, 3)
	items[1].Key = foreignKey{}
	if got := verifyBatch(items, nil); got[1] {
		t.Fatal("a key from another suite verified")
	}
}

// uncachedVerify checks one item as Verify does, without the signature cache.
func uncachedVerify(it crypto.SigItem) bool {
	k, ok := it.Key.(PublicKey)
	return ok && k.verify(it.Msg, it.Sig, nil)
}

type foreignKey struct{}

func (foreignKey) Bytes() []byte           { return make([]byte, 32) }
func (foreignKey) Verify(_, _ []byte) bool { return true }

// FuzzBatchAgrees: a batch reports exactly what single verification does.
func FuzzBatchAgrees(f *testing.F) {
	s := New()
	v := rfc8032[2]
	f.Add(unhex(f, v.pub), unhex(f, v.msg), unhex(f, v.sig), byte(0))
	f.Add(make([]byte, 32), []byte("m"), make([]byte, 64), byte(3))
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte, pos byte) {
		k, err := s.PublicKey(pub)
		if err != nil {
			return
		}
		items, _ := batchCorpus(t, 4, uint64(pos))
		i := int(pos) % len(items)
		items[i] = crypto.SigItem{Key: k, Msg: msg, Sig: sig}
		got := verifyBatch(items, nil)
		cached := s.(Suite).VerifyBatch(items)
		for j, it := range items {
			if single := uncachedVerify(it); got[j] != single || cached[j] != single {
				t.Fatalf("item %d: batch %v, through the cache %v, single %v", j, got[j], cached[j], single)
			}
		}
	})
}

func BenchmarkVerifyBatch(b *testing.B) {
	for _, n := range []int{1, 64, 256, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := Suite{}
			items := make([]crypto.SigItem, n)
			for i := range items {
				priv, _ := s.GenerateKey(nil)
				msg := make([]byte, 256)
				msg[0], msg[1] = byte(i), byte(i>>8)
				sig, _ := priv.Sign(msg)
				items[i] = crypto.SigItem{Key: priv.Public(), Msg: msg, Sig: sig}
			}
			for b.Loop() { // without the cache: every signature checked
				verifyBatch(items, nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1000, "µs/sig")
		})
	}
}

func BenchmarkVerifyStdlib(b *testing.B) {
	priv, _ := New().GenerateKey(nil)
	msg := make([]byte, 256)
	sig, _ := priv.Sign(msg)
	pub := priv.Public().Bytes()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify failed")
		}
	}
}
