package ed25519sha256

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 8032 section 7.1, TEST 1024: a 1023-byte message.
const test1024Msg = `
08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98
fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8
79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d
658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc
1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe
ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e
06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef
efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7
aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1
85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2
d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24
554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270
88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc
2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07
07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba
b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a
ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e
c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7
51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c
42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8
ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df
f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08
d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649
de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4
88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3
2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e
6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f
b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5
0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1
369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d
b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c
0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0`

// RFC 8032 section 7.1, Ed25519 TEST 1, 2, 3 and 1024.
var rfc8032 = []struct{ name, seed, pub, msg, sig string }{
	{"TEST 1",
		"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		"",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
			"5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"TEST 2",
		"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		"72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
			"085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"TEST 3",
		"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
		"af82",
		"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac" +
			"18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
	{"TEST 1024",
		"f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
		"278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
		test1024Msg,
		"0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350" +
			"aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"},
}

func TestRFC8032Vectors(t *testing.T) {
	s := New()
	for _, v := range rfc8032 {
		t.Run(v.name, func(t *testing.T) {
			seed, pub, msg, sig := unhex(t, v.seed), unhex(t, v.pub), unhex(t, v.msg), unhex(t, v.sig)
			if v.name == "TEST 1024" && len(msg) != 1023 {
				t.Fatalf("message is %d bytes, want 1023", len(msg))
			}
			priv, err := s.PrivateKey(seed)
			if err != nil {
				t.Fatal(err)
			}
			if got := priv.Public().Bytes(); !bytes.Equal(got, pub) {
				t.Fatalf("public key %x, want %x", got, pub)
			}
			if got := priv.Bytes(); !bytes.Equal(got, seed) {
				t.Fatalf("private key bytes %x, want the seed", got)
			}
			got, err := priv.Sign(msg)
			if err != nil || !bytes.Equal(got, sig) {
				t.Fatalf("signature %x (err %v), want %x", got, err, sig)
			}
			pk, err := s.PublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			if !pk.Verify(msg, sig) {
				t.Fatal("valid signature rejected")
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)-1] ^= 0x01
			if pk.Verify(msg, bad) {
				t.Fatal("tampered signature accepted")
			}
			if pk.Verify(append(msg, 0), sig) {
				t.Fatal("tampered message accepted")
			}
		})
	}
}

// FIPS 180-2 Appendix B.1 ("abc") and B.2 (two blocks); "" is the
// well-known empty-input digest.
func TestSHA256Vectors(t *testing.T) {
	s := New()
	for _, v := range []struct{ msg, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
			"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
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

func TestCurveConstant(t *testing.T) {
	// d from RFC 8032 section 5.1.
	want, _ := new(big.Int).SetString("37095705934669439343138083508754565189542113879843219016388785533085940283555", 10)
	if curveD.Cmp(want) != 0 {
		t.Fatalf("d = %v", curveD)
	}
}

func TestRoundTrip(t *testing.T) {
	s := New()
	for _, r := range []io.Reader{nil, rand.Reader} {
		priv, err := s.GenerateKey(r)
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("transfer 10 to alice")
		sig, err := priv.Sign(msg)
		if err != nil || len(sig) != SignatureSize {
			t.Fatalf("Sign: %d bytes, %v", len(sig), err)
		}
		again, _ := priv.Sign(msg)
		if !bytes.Equal(sig, again) {
			t.Fatal("Ed25519 signatures must be deterministic")
		}
		pub, err := s.PublicKey(priv.Public().Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !pub.Verify(msg, sig) {
			t.Fatal("round trip failed")
		}
		for i := range sig {
			bad := append([]byte(nil), sig...)
			bad[i] ^= 0x80
			if pub.Verify(msg, bad) {
				t.Fatalf("signature with byte %d flipped accepted", i)
			}
		}
		for _, bad := range [][]byte{nil, sig[:63], append(sig, 0)} {
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
	}
}

func TestGenerateKeyReadsSeed(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, PrivateKeySize)
	priv, err := New().GenerateKey(bytes.NewReader(seed))
	if err != nil || !bytes.Equal(priv.Bytes(), seed) {
		t.Fatalf("GenerateKey = %x, %v; want the seed", priv.Bytes(), err)
	}
}

func TestBytesAreCopies(t *testing.T) {
	priv, _ := New().GenerateKey(nil)
	pub := priv.Public()
	want := pub.Bytes()
	pub.Bytes()[0] ^= 0xff
	priv.Bytes()[0] ^= 0xff
	if !bytes.Equal(pub.Bytes(), want) || !bytes.Equal(priv.Public().Bytes(), want) {
		t.Fatal("mutating Bytes() changed the key")
	}
}

func TestMalformedKeys(t *testing.T) {
	s := New()
	for _, n := range []int{0, 1, 31, 33, 64} {
		if _, err := s.PrivateKey(make([]byte, n)); !errors.Is(err, crypto.ErrBadPrivateKey) {
			t.Errorf("PrivateKey(%d bytes): %v", n, err)
		}
		if _, err := s.PublicKey(make([]byte, n)); !errors.Is(err, crypto.ErrBadPublicKey) {
			t.Errorf("PublicKey(%d bytes): %v", n, err)
		}
	}
	rfcPub := unhex(t, rfc8032[0].pub)
	for name, b := range map[string]string{
		"y = p (non-canonical)":        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"y = p+1 (non-canonical)":      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"y = 2^255-1 (non-canonical)":  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"y = 1, x = 0 with sign bit":   "0100000000000000000000000000000000000000000000000000000000000080",
		"y = p-1, x = 0 with sign bit": "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	} {
		if _, err := s.PublicKey(unhex(t, b)); !errors.Is(err, crypto.ErrBadPublicKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := s.PublicKey(rfcPub); err != nil {
		t.Fatal(err)
	}
	var zero PrivateKey
	if _, err := zero.Sign(nil); !errors.Is(err, crypto.ErrBadPrivateKey) {
		t.Errorf("zero PrivateKey signed: %v", err)
	}
}

// TestPointDecoding checks onCurve against an independent decoder: it
// solves for x with ModSqrt and checks the curve equation
// -x^2 + y^2 = 1 + d x^2 y^2 (RFC 8032 section 5.1).
func TestPointDecoding(t *testing.T) {
	s := New()
	one := big.NewInt(1)
	var accepted, rejected int
	for i := range 2000 {
		var b [32]byte
		if i < 100 {
			b[0] = byte(i) // small y, including the identity (y = 1)
		} else {
			rand.Read(b[:])
			b[31] &= 0x7f // keep y < 2^255; canonicity is tested elsewhere
		}
		be := make([]byte, 32)
		for j := range be {
			be[j] = b[31-j]
		}
		y := new(big.Int).SetBytes(be)
		if y.Cmp(fieldP) >= 0 {
			continue
		}
		y2 := new(big.Int).Mul(y, y)
		num := new(big.Int).Sub(y2, one)
		den := new(big.Int).Add(new(big.Int).Mul(curveD, y2), one)
		den.ModInverse(den.Mod(den, fieldP), fieldP)
		x2 := num.Mul(num, den).Mod(num, fieldP)
		x := new(big.Int).ModSqrt(x2, fieldP)
		want := x != nil
		if want {
			xx := new(big.Int).Mul(x, x)
			lhs := new(big.Int).Sub(y2, xx)
			rhs := new(big.Int).Add(one, new(big.Int).Mul(curveD, new(big.Int).Mul(xx, y2)))
			if lhs.Sub(lhs, rhs).Mod(lhs, fieldP).Sign() != 0 {
				t.Fatalf("y=%v: recovered x is not on the curve", y)
			}
		}
		_, err := s.PublicKey(b[:])
		if got := err == nil; got != want {
			t.Fatalf("y=%v: PublicKey accepted=%v, independent check=%v (%v)", y, got, want, err)
		}
		if want {
			accepted++
		} else {
			rejected++
		}
		b[31] |= 0x80 // the other sign of x: valid unless x = 0
		_, err = s.PublicKey(b[:])
		if got := err == nil; got != (want && x.Sign() != 0) {
			t.Fatalf("y=%v with sign bit: accepted=%v", y, got)
		}
	}
	if accepted < 500 || rejected < 500 {
		t.Fatalf("accepted %d, rejected %d: expected about half each", accepted, rejected)
	}
	for range 100 {
		priv, _ := s.GenerateKey(nil)
		if _, err := s.PublicKey(priv.Public().Bytes()); err != nil {
			t.Fatalf("generated key rejected: %v", err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s := New()
	v := rfc8032[2]
	f.Add(unhex(f, v.pub), unhex(f, v.msg), unhex(f, v.sig))
	f.Add([]byte{}, []byte{}, []byte{})
	f.Add(make([]byte, 32), []byte("m"), make([]byte, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 32), []byte("m"), bytes.Repeat([]byte{0xff}, 64))
	fixed, err := s.PublicKey(unhex(f, v.pub))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if k, err := s.PublicKey(pub); err == nil {
			k.Verify(msg, sig)
			if !bytes.Equal(k.Bytes(), pub) {
				t.Fatal("Bytes does not round-trip")
			}
		} else if !errors.Is(err, crypto.ErrBadPublicKey) {
			t.Fatalf("PublicKey error %v does not wrap ErrBadPublicKey", err)
		}
		if fixed.Verify(msg, sig) && !(bytes.Equal(msg, unhex(t, v.msg)) && bytes.Equal(sig, unhex(t, v.sig))) {
			t.Fatal("forged signature accepted")
		}
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
	pub := priv.Public().(PublicKey)
	for b.Loop() { // without the cache
		if !pub.verify(msg, sig, nil) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkVerifyCached: a signature verified before, answered from the
// cache (hashing key, message and signature, one map lookup).
func BenchmarkVerifyCached(b *testing.B) {
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

func BenchmarkPublicKey(b *testing.B) {
	s := New()
	priv, _ := s.GenerateKey(nil)
	pub := priv.Public().Bytes()
	for b.Loop() {
		if _, err := s.PublicKey(pub); err != nil {
			b.Fatal(err)
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

// Reference constants for the independent decoding check (RFC 8032, 5.1):
// p = 2^255 - 19 and d = -121665 / 121666 mod p.
var (
	fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	curveD = func() *big.Int {
		d := new(big.Int).ModInverse(big.NewInt(121666), fieldP)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, fieldP)
	}()
)
