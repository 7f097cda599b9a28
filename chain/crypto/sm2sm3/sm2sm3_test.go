package sm2sm3

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"github.com/polityledger/polity/chain/crypto"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ToLower(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func der(t testing.TB, r, s string) []byte {
	t.Helper()
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(unhex(t, r)), new(big.Int).SetBytes(unhex(t, s)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// GB/T 32905-2016 Appendix A, examples 1 and 2.
func TestSM3Vectors(t *testing.T) {
	s := New()
	for _, v := range []struct{ msg, want string }{
		{"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{strings.Repeat("abcd", 16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
	} {
		if got := s.Hash([]byte(v.msg)).String(); got != v.want {
			t.Errorf("Hash(%q) = %s, want %s", v.msg, got, v.want)
		}
		h := s.NewHasher()
		h.Write([]byte(v.msg))
		if got := hex.EncodeToString(h.Sum(nil)); got != v.want {
			t.Errorf("NewHasher(%q) = %s, want %s", v.msg, got, v.want)
		}
	}
	if s.Hash([]byte("a"), nil, []byte("bc")) != s.Hash([]byte("abc")) {
		t.Error("Hash of parts differs from Hash of their concatenation")
	}
}

// The signature example on the recommended curve of GM/T 0003.5-2012
// Appendix A (also GB/T 32918.5-2017 Appendix A): ID "1234567812345678",
// message "message digest".
func TestSM2StandardVector(t *testing.T) {
	const (
		d  = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
		xA = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
		yA = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
		zA = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
		e  = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
		r  = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
		s  = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
	)
	msg := []byte("message digest")
	suite := New()
	priv, err := suite.PrivateKey(unhex(t, d))
	if err != nil {
		t.Fatal(err)
	}
	pubBytes := unhex(t, "04"+xA+yA)
	if got := priv.Public().Bytes(); !bytes.Equal(got, pubBytes) {
		t.Fatalf("public key %x, want %x", got, pubBytes)
	}
	pub, err := suite.PublicKey(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	key := pub.(*PublicKey).key
	za, err := sm2.CalculateZA(key, []byte(UID))
	if err != nil || !bytes.Equal(za, unhex(t, zA)) {
		t.Fatalf("Z_A = %x (%v), want %s", za, err, zA)
	}
	if got := sm3.Sum(append(za, msg...)); !bytes.Equal(got[:], unhex(t, e)) {
		t.Fatalf("e = %x, want %s", got, e)
	}
	sig := der(t, r, s)
	if !pub.Verify(msg, sig) {
		t.Fatal("standard signature rejected")
	}
	if pub.Verify([]byte("message digesT"), sig) {
		t.Fatal("tampered message accepted")
	}
	if pub.Verify(msg, der(t, r, "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AB")) {
		t.Fatal("tampered s accepted")
	}
	if sm2.VerifyASN1WithSM2(key, []byte("ALICE123@YAHOO.COM"), msg, sig) {
		t.Fatal("signature verified under another user ID")
	}
	// Our own signature with the same key verifies too.
	mine, err := priv.Sign(msg)
	if err != nil || !pub.Verify(msg, mine) {
		t.Fatalf("Sign: %v", err)
	}
}

// ExampleVerifyASN1WithSM2 in gmsm v0.41.0, sm2/example_test.go.
func TestSM2GmsmVector(t *testing.T) {
	pub, err := New().PublicKey(unhex(t, "048356e642a40ebd18d29ba3532fbd9f3bbee8f027c3f6f39a5ba2f870369f9988981f5efe55d1c5cdf6c0ef2b070847a14f7fdf4272a8df09c442f3058af94ba1"))
	if err != nil {
		t.Fatal(err)
	}
	sig := unhex(t, "304402205b3a799bd94c9063120d7286769220af6b0fa127009af3e873c0e8742edc5f890220097968a4c8b040fd548d1456b33f470cabd8456bfea53e8a828f92f6d4bdcd77")
	if !pub.Verify([]byte("ShangMi SM2 Sign Standard"), sig) {
		t.Fatal("gmsm example signature rejected")
	}
	if pub.Verify([]byte("ShangMi SM2 Sign Standard."), sig) {
		t.Fatal("tampered message accepted")
	}
}

func TestRoundTrip(t *testing.T) {
	s := New()
	for _, r := range []io.Reader{nil, bytes.NewReader(bytes.Repeat([]byte{0x5a}, 1024))} {
		priv, err := s.GenerateKey(r)
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("transfer 10 to alice")
		sig, err := priv.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := s.PublicKey(priv.Public().Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !pub.Verify(msg, sig) {
			t.Fatal("round trip failed")
		}
		sig2, _ := priv.Sign(msg)
		if !pub.Verify(msg, sig2) {
			t.Fatal("second signature rejected")
		}
		for i := range sig {
			bad := append([]byte(nil), sig...)
			bad[i] ^= 0x01
			if pub.Verify(msg, bad) {
				t.Fatalf("signature with byte %d flipped accepted", i)
			}
		}
		for _, bad := range [][]byte{nil, sig[:len(sig)-1], append(sig, 0)} {
			if pub.Verify(msg, bad) {
				t.Fatalf("%d-byte signature accepted", len(bad))
			}
		}
		if pub.Verify([]byte("transfer 11 to alice"), sig) {
			t.Fatal("tampered message accepted")
		}
		other, _ := s.GenerateKey(nil)
		if other.Public().Verify(msg, sig) {
			t.Fatal("signature verified under another key")
		}
		priv2, err := s.PrivateKey(priv.Bytes())
		if err != nil || !bytes.Equal(priv2.Public().Bytes(), priv.Public().Bytes()) {
			t.Fatal("private key bytes do not round-trip")
		}
		if len(priv.Bytes()) != PrivateKeySize || len(pub.Bytes()) != PublicKeySize {
			t.Fatal("wrong encoding sizes")
		}
	}
}

func TestMalformedKeys(t *testing.T) {
	s := New()
	priv, _ := s.GenerateKey(nil)
	good := priv.Public().Bytes()
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		return b
	}
	compressed := append([]byte{2 | good[64]&1}, good[1:33]...)
	fieldP := unhex(t, "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF") // field prime p
	for name, b := range map[string][]byte{
		"empty":               nil,
		"64 bytes":            good[1:],
		"66 bytes":            append(append([]byte(nil), good...), 0),
		"compressed":          compressed,
		"prefix 0x00":         append([]byte{0}, good[1:]...),
		"prefix 0x06":         append([]byte{6}, good[1:]...),
		"off curve (y)":       flip(64),
		"off curve (x)":       flip(1),
		"all zero":            append([]byte{4}, make([]byte, 64)...),
		"x = p":               append(append([]byte{4}, fieldP...), good[33:]...),
		"infinity (1 byte 0)": {0},
	} {
		if _, err := s.PublicKey(b); !errors.Is(err, crypto.ErrBadPublicKey) {
			t.Errorf("PublicKey(%s): %v", name, err)
		}
	}

	n := new(big.Int).SetBytes(unhex(t, "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123")) // group order
	scalar := func(x *big.Int) []byte { return x.FillBytes(make([]byte, 32)) }
	for name, b := range map[string][]byte{
		"empty":    nil,
		"31 bytes": make([]byte, 31),
		"33 bytes": append([]byte{0}, scalar(big.NewInt(1))...),
		"zero":     make([]byte, 32),
		"n-1":      scalar(new(big.Int).Sub(n, big.NewInt(1))),
		"n":        scalar(n),
		"n+1":      scalar(new(big.Int).Add(n, big.NewInt(1))),
		"all 0xff": bytes.Repeat([]byte{0xff}, 32),
	} {
		if _, err := s.PrivateKey(b); !errors.Is(err, crypto.ErrBadPrivateKey) {
			t.Errorf("PrivateKey(%s): %v", name, err)
		}
	}
	for _, d := range []*big.Int{big.NewInt(1), new(big.Int).Sub(n, big.NewInt(2))} {
		if _, err := s.PrivateKey(scalar(d)); err != nil {
			t.Errorf("PrivateKey(%v): %v", d, err)
		}
	}

	var zero PrivateKey
	if _, err := zero.Sign(nil); !errors.Is(err, crypto.ErrBadPrivateKey) {
		t.Errorf("zero PrivateKey signed: %v", err)
	}
	if (&PublicKey{}).Verify(nil, nil) || (*PublicKey)(nil).Verify(nil, nil) {
		t.Error("zero PublicKey verified")
	}
}

func TestBytesAreCopies(t *testing.T) {
	priv, _ := New().GenerateKey(nil)
	pub := priv.Public()
	want := pub.Bytes()
	pub.Bytes()[1] ^= 0xff
	priv.Bytes()[0] ^= 0xff
	if !bytes.Equal(pub.Bytes(), want) || !bytes.Equal(priv.Public().Bytes(), want) {
		t.Fatal("mutating Bytes() changed the key")
	}
}

func FuzzVerify(f *testing.F) {
	s := New()
	pubHex := "048356e642a40ebd18d29ba3532fbd9f3bbee8f027c3f6f39a5ba2f870369f9988981f5efe55d1c5cdf6c0ef2b070847a14f7fdf4272a8df09c442f3058af94ba1"
	sigHex := "304402205b3a799bd94c9063120d7286769220af6b0fa127009af3e873c0e8742edc5f890220097968a4c8b040fd548d1456b33f470cabd8456bfea53e8a828f92f6d4bdcd77"
	msg := []byte("ShangMi SM2 Sign Standard")
	f.Add(unhex(f, pubHex), msg, unhex(f, sigHex))
	f.Add([]byte{}, []byte{}, []byte{})
	f.Add(append([]byte{4}, make([]byte, 64)...), []byte("m"), []byte{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00})
	f.Add(bytes.Repeat([]byte{0xff}, 65), []byte("m"), bytes.Repeat([]byte{0xff}, 72))
	fixed, err := s.PublicKey(unhex(f, pubHex))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pub, m, sig []byte) {
		if k, err := s.PublicKey(pub); err == nil {
			k.Verify(m, sig)
			if !bytes.Equal(k.Bytes(), pub) {
				t.Fatal("Bytes does not round-trip")
			}
		} else if !errors.Is(err, crypto.ErrBadPublicKey) {
			t.Fatalf("PublicKey error %v does not wrap ErrBadPublicKey", err)
		}
		fixed.Verify(m, sig)
	})
}

func BenchmarkSign(b *testing.B) {
	priv, _ := New().GenerateKey(nil)
	msg := make([]byte, 256)
	for b.Loop() {
		priv.Sign(msg)
	}
}

func BenchmarkVerify(b *testing.B) {
	priv, _ := New().GenerateKey(nil)
	msg := make([]byte, 256)
	sig, _ := priv.Sign(msg)
	pub := priv.Public()
	for b.Loop() {
		if !pub.Verify(msg, sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkHash1KiB(b *testing.B) {
	s := New()
	data := make([]byte, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s.Hash(data)
	}
}
