package zk

import (
	"bytes"
	"testing"
)

// Every decoder: no panic, and whatever decodes re-encodes to the same bytes.

func FuzzSignedCommitment(f *testing.F) {
	fx := newFixture(f)
	b, _ := fx.signed.MarshalBinary()
	f.Add(b)
	f.Add(make([]byte, SignedCommitmentSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s SignedCommitment
		if s.UnmarshalBinary(b) != nil {
			return
		}
		out, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		_ = s.Verify()
	})
}

func FuzzCredential(f *testing.F) {
	fx := newFixture(f)
	b, _ := fx.cred.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Credential
		if c.UnmarshalBinary(b) != nil {
			return
		}
		out, err := c.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func FuzzStatement(f *testing.F) {
	fx := newFixture(f)
	for _, p := range Predicates {
		st := fx.statement(f, p)
		b, _ := st.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Statement
		if s.UnmarshalBinary(b) != nil {
			return
		}
		out, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func FuzzProof(f *testing.F) {
	seed := make([]byte, ProofSize)
	seed[0], seed[1] = proofVersion, byte(AgeAtLeast)
	// Points at infinity: a well-formed (if useless) proof.
	seed[2] = 0x40
	seed[2+g1Size] = 0x40
	seed[2+g1Size+g2Size] = 0x40
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Proof
		if p.UnmarshalBinary(b) != nil {
			return
		}
		out, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func FuzzVerifyingKey(f *testing.F) {
	sh, err := AgeAtLeast.shape()
	if err != nil {
		f.Fatal(err)
	}
	seed := make([]byte, 0, keyHeaderSize+3*g1Size+3*g2Size+sh.public*g1Size)
	seed = append(seed, vkMagic[:]...)
	seed = append(seed, byte(AgeAtLeast))
	seed = append(seed, sh.digest[:]...)
	for range 3 + sh.public {
		seed = append(seed, 0x40) // G1 infinity, compressed
		seed = append(seed, make([]byte, g1Size-1)...)
	}
	for range 3 {
		seed = append(seed, 0x40)
		seed = append(seed, make([]byte, g2Size-1)...)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		vk, err := ParseVerifyingKey(b)
		if err != nil {
			return
		}
		if _, err := vk.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzStatusList(f *testing.F) {
	f.Add([]byte{0x80, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := NewStatusList(b)
		if err != nil {
			return
		}
		for i := uint32(0); i < uint32(len(b))*8 && i < 64; i++ {
			if l.Revoked(i) != (b[i/8]>>(7-i%8)&1 == 1) {
				t.Fatalf("Revoked(%d) wrong", i)
			}
		}
	})
}
