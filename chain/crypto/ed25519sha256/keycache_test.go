package ed25519sha256

import (
	"bytes"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

// uncached is the key with only its bytes, verifying as before the cache.
func uncached(k crypto.PublicKey) PublicKey {
	var u PublicKey
	copy(u.b[:], k.Bytes())
	return u
}

// FuzzCachedKeyAgrees: a key decoded again (from the cache, point
// precomputed) accepts and verifies exactly as the bare bytes do, singly
// and in a batch.
func FuzzCachedKeyAgrees(f *testing.F) {
	s := New()
	for _, v := range rfc8032 {
		f.Add(unhex(f, v.pub), unhex(f, v.msg), unhex(f, v.sig))
	}
	ident := make([]byte, 32)
	ident[0] = 1 // the identity: small order, a valid encoding
	f.Add(ident, []byte("m"), make([]byte, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 32), []byte("m"), make([]byte, 64)) // y >= p
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		k1, err1 := s.PublicKey(pub)
		k2, err2 := s.PublicKey(pub)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("decoded once %v, again %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		want := uncached(k1).verify(msg, sig, nil)
		if k1.Verify(msg, sig) != want || k2.Verify(msg, sig) != want {
			t.Fatalf("precomputed key disagrees with its bytes (want %v)", want)
		}
		items, _ := batchCorpus(t, 3, uint64(len(msg)))
		items = append(items, crypto.SigItem{Key: k2, Msg: msg, Sig: sig})
		if got := s.(Suite).VerifyBatch(items); got[len(items)-1] != want {
			t.Fatalf("batch with the precomputed key says %v, bytes %v", got[len(items)-1], want)
		}
	})
}

func BenchmarkVerifyDecodedKey(b *testing.B) {
	s := New()
	priv, _ := s.GenerateKey(nil)
	msg := make([]byte, 256)
	sig, _ := priv.Sign(msg)
	k, err := s.PublicKey(priv.Public().Bytes())
	if err != nil {
		b.Fatal(err)
	}
	pub := k.(PublicKey)
	for b.Loop() { // without the signature cache
		if !pub.verify(msg, sig, nil) {
			b.Fatal("verify failed")
		}
	}
}
