package smt

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

// proofCase is a proof with the claim it proves.
type proofCase struct {
	name      string
	root, key crypto.Hash
	value     *crypto.Hash
	proof     *Proof
}

// proofCases builds a tree with shallow and 256-deep paths and returns
// inclusion proofs and both kinds of absence proof.
func proofCases(t testing.TB) []proofCase {
	rng := rand.New(rand.NewPCG(3, 3))
	store := memStore{}
	tree := New(suite, store)
	m := model{}
	var ops []Op
	for range 100 {
		ops = append(ops, Op{Key: randHash(rng), ValueHash: randHash(rng)})
	}
	base := ops[0].Key
	deep := flipBit(base, 255)
	ops = append(ops, Op{Key: deep, ValueHash: randHash(rng)})
	sortOps(ops)
	root, nodes, err := tree.Update(crypto.Hash{}, ops)
	if err != nil {
		t.Fatal(err)
	}
	store.put(t, nodes)
	m.apply(ops)

	var cases []proofCase
	add := func(name string, root, key crypto.Hash, m model) {
		p, err := tree.Prove(root, key)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, proofCase{name, root, key, m.ptr(key), p})
	}
	add("inclusion", root, ops[50].Key, m)
	add("inclusion-deep", root, deep, m)
	add("absence-other", root, flipBit(ops[50].Key, 200), m)
	add("absence-deep", root, flipBit(base, 254), m)
	var absEmpty crypto.Hash
	for {
		// A key whose path ends in an empty subtree.
		absEmpty = randHash(rng)
		if p, _ := tree.Prove(root, absEmpty); p.Other == nil {
			break
		}
	}
	add("absence-empty", root, absEmpty, m)
	add("empty-tree", crypto.Hash{}, absEmpty, model{})

	one := suite.Hash([]byte{0}, ops[0].Key[:], ops[0].ValueHash[:])
	store[one] = append([]byte{0}, append(ops[0].Key[:], ops[0].ValueHash[:]...)...)
	add("single-leaf-inclusion", one, ops[0].Key, model{ops[0].Key: ops[0].ValueHash})
	add("single-leaf-absence", one, absEmpty, model{ops[0].Key: ops[0].ValueHash})
	return cases
}

func TestProofCases(t *testing.T) {
	for _, c := range proofCases(t) {
		if err := Verify(suite, c.root, c.key, c.value, c.proof); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestProofTamper flips every bit of each encoded proof: the result must fail
// to decode or fail to verify. Truncated and extended encodings must fail to
// decode.
func TestProofTamper(t *testing.T) {
	for _, c := range proofCases(t) {
		enc, err := c.proof.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		for i := range enc {
			for b := range 8 {
				bad := bytes.Clone(enc)
				bad[i] ^= 1 << b
				var p Proof
				if err := p.UnmarshalBinary(bad); err != nil {
					if !errors.Is(err, ErrMalformedProof) {
						t.Fatalf("%s: byte %d bit %d: unexpected error %v", c.name, i, b, err)
					}
					continue
				}
				if err := Verify(suite, c.root, c.key, c.value, &p); err == nil {
					t.Fatalf("%s: byte %d bit %d flipped, proof still verifies", c.name, i, b)
				}
			}
		}
		for n := range len(enc) {
			var p Proof
			if err := p.UnmarshalBinary(enc[:n]); !errors.Is(err, ErrMalformedProof) {
				t.Fatalf("%s: truncated to %d: %v", c.name, n, err)
			}
		}
		for _, extra := range [][]byte{{0}, {1}, make([]byte, 32)} {
			var p Proof
			if err := p.UnmarshalBinary(append(bytes.Clone(enc), extra...)); !errors.Is(err, ErrMalformedProof) {
				t.Fatalf("%s: trailing %x: %v", c.name, extra, err)
			}
		}
		// A different key (one that leaves the path: an absence proof also
		// holds for other absent keys in the same slot), value, or root.
		if c.value != nil || len(c.proof.Siblings) > 0 {
			if err := Verify(suite, c.root, flipBit(c.key, 0), c.value, c.proof); !errors.Is(err, ErrProofMismatch) {
				t.Fatalf("%s: other key: %v", c.name, err)
			}
		}
		if err := Verify(suite, flipBit(c.root, 0), c.key, c.value, c.proof); !errors.Is(err, ErrProofMismatch) {
			t.Fatalf("%s: other root: %v", c.name, err)
		}
		other := vh("other")
		if c.value != nil {
			other = flipBit(*c.value, 3)
		}
		if err := Verify(suite, c.root, c.key, &other, c.proof); !errors.Is(err, ErrProofMismatch) {
			t.Fatalf("%s: other value: %v", c.name, err)
		}
	}
}

// TestProofEncoding checks the layout and the decoder's strictness on
// hand-made inputs.
func TestProofEncoding(t *testing.T) {
	s := vh("s")
	p := &Proof{Siblings: []crypto.Hash{{}, s, {}, {}, {}, {}, {}, {}, s}, Other: &Leaf{Key: vh("k"), ValueHash: vh("v")}}
	enc, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 0, 9, 0x40, 0x80}
	want = append(want, s[:]...)
	want = append(want, s[:]...)
	want = append(want, p.Other.Key[:]...)
	want = append(want, p.Other.ValueHash[:]...)
	if !bytes.Equal(enc, want) {
		t.Fatalf("encoding\n%x\nwant\n%x", enc, want)
	}
	if enc, _ := (&Proof{}).MarshalBinary(); !bytes.Equal(enc, []byte{0, 0, 0}) {
		t.Fatalf("empty proof %x", enc)
	}
	if len(maxProof(t)) != MaxProofSize {
		t.Fatalf("largest proof is %d bytes, MaxProofSize %d", len(maxProof(t)), MaxProofSize)
	}

	bad := map[string][]byte{
		"empty":           {},
		"short header":    {0, 0},
		"bad flags":       {2, 0, 0},
		"depth 257":       append([]byte{0, 1, 1}, make([]byte, 33)...),
		"missing bitmap":  {0, 0, 1},
		"bit past depth":  append([]byte{0, 0, 1, 0xc0}, s[:]...),
		"zero sibling":    append([]byte{0, 0, 1, 0x80}, make([]byte, 32)...),
		"deepest empty":   append([]byte{0, 0, 2, 0x80}, s[:]...),
		"missing sibling": {0, 0, 1, 0x80},
		"missing other":   {1, 0, 0},
		"short other":     append([]byte{1, 0, 0}, make([]byte, 63)...),
		"other at 256":    append(append(append(append([]byte{1, 1, 0}, make([]byte, 31)...), 1), s[:]...), make([]byte, 64)...),
		"too long":        make([]byte, MaxProofSize+1),
		"trailing byte":   {0, 0, 0, 0},
	}
	for name, data := range bad {
		var p Proof
		if err := p.UnmarshalBinary(data); !errors.Is(err, ErrMalformedProof) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A failed decode leaves the proof alone.
	q := *p
	if err := q.UnmarshalBinary([]byte{9}); err == nil || !proofsEqual(&q, p) {
		t.Fatal("failed decode changed the proof")
	}
}

// maxProof encodes the largest canonical proof: 255 non-empty siblings and
// another leaf.
func maxProof(t testing.TB) []byte {
	p := &Proof{Siblings: make([]crypto.Hash, KeyBits-1), Other: &Leaf{}}
	for i := range p.Siblings {
		p.Siblings[i] = vh(fmt.Sprint(i))
	}
	enc, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// FuzzProofUnmarshal checks that decoding never panics, that accepted inputs
// re-encode to themselves, and that verifying them never panics.
func FuzzProofUnmarshal(f *testing.F) {
	for _, c := range proofCases(f) {
		enc, err := c.proof.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add(maxProof(f))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{1, 1, 0})
	f.Add([]byte{0, 0xff, 0xff})
	root := vh("root")
	key := vh("key")
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Proof
		if err := p.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrMalformedProof) {
				t.Fatalf("error %v does not wrap ErrMalformedProof", err)
			}
			return
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded proof does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("round trip changed encoding:\n%x\n%x", data, enc)
		}
		if err := Verify(suite, root, key, nil, &p); err == nil {
			t.Fatal("random proof verified")
		}
		if err := Verify(suite, root, key, &root, &p); err == nil {
			t.Fatal("random proof verified")
		}
	})
}
