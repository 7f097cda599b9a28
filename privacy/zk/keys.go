package zk

import (
	"crypto/sha256"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr/fft"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// Key files. Layout (all points compressed, counts implied by the circuit):
//
//	magic(8) predicate(1) circuit digest(32) body
//	VerifyingKey body: [α]1 [β]1 [δ]1 [β]2 [γ]2 [δ]2 K[public wires]1
//	ProvingKey body:   domain(8) [α]1 [β]1 [δ]1 [β]2 [δ]2
//	                   infinityA(bitmap, wires) infinityB(bitmap, wires)
//	                   A1[wires-#infA] B1[wires-#infB] Z1[domain-1]
//	                   K1[secret+internal] B2[wires-#infB]
//
// The circuits use no Pedersen commitments (no BSB22 extension), so keys
// carry no commitment keys.
var (
	pkMagic = [8]byte{'P', 'Z', 'K', 'P', 'K', 0, 0, 1}
	vkMagic = [8]byte{'P', 'Z', 'K', 'V', 'K', 0, 0, 1}
)

const keyHeaderSize = 8 + 1 + 32

// ProvingKey is a Groth16 proving key for one predicate's circuit.
type ProvingKey struct {
	pred Predicate
	pk   *groth16bn254.ProvingKey
}

// VerifyingKey is a Groth16 verifying key for one predicate's circuit.
type VerifyingKey struct {
	pred Predicate
	vk   *groth16bn254.VerifyingKey
}

// Predicate returns the key's predicate.
func (k *ProvingKey) Predicate() Predicate { return k.pred }

// Predicate returns the key's predicate.
func (k *VerifyingKey) Predicate() Predicate { return k.pred }

func keyHeader(e *encoder, magic [8]byte, p Predicate, s *shape) {
	e.b = append(e.b, magic[:]...)
	e.b = append(e.b, byte(p))
	e.b = append(e.b, s.digest[:]...)
}

func readKeyHeader(d *decoder, magic [8]byte) (Predicate, *shape, error) {
	h := d.take(keyHeaderSize)
	if d.err != nil {
		return 0, nil, d.err
	}
	if [8]byte(h[:8]) != magic {
		return 0, nil, fmt.Errorf("%w: not a key file of this kind", ErrBadInput)
	}
	p := Predicate(h[8])
	if !p.valid() {
		return 0, nil, fmt.Errorf("%w: predicate %d", ErrBadInput, h[8])
	}
	s, err := p.shape()
	if err != nil {
		return 0, nil, err
	}
	if [32]byte(h[9:]) != s.digest {
		return 0, nil, fmt.Errorf("%w: %s key made for another circuit version", ErrKeyMismatch, p)
	}
	return p, s, nil
}

// MarshalBinary encodes the verifying key (a few hundred bytes).
func (k *VerifyingKey) MarshalBinary() ([]byte, error) {
	s, err := k.pred.shape()
	if err != nil {
		return nil, err
	}
	vk := k.vk
	if len(vk.G1.K) != s.public || len(vk.CommitmentKeys) != 0 {
		return nil, fmt.Errorf("%w: verifying key does not fit the %s circuit", ErrKeyMismatch, k.pred)
	}
	var e encoder
	keyHeader(&e, vkMagic, k.pred, s)
	e.g1(vk.G1.Alpha, vk.G1.Beta, vk.G1.Delta)
	e.g2(vk.G2.Beta, vk.G2.Gamma, vk.G2.Delta)
	e.g1(vk.G1.K...)
	return e.b, nil
}

// ParseVerifyingKey decodes MarshalBinary's encoding; the length is exact
// for the predicate named in the header.
func ParseVerifyingKey(b []byte) (*VerifyingKey, error) {
	d := decoder{b: b}
	p, s, err := readKeyHeader(&d, vkMagic)
	if err != nil {
		return nil, fmt.Errorf("zk: verifying key: %w", err)
	}
	vk := new(groth16bn254.VerifyingKey)
	g1 := d.g1(3)
	g2 := d.g2(3)
	vk.G1.K = d.g1(s.public)
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("zk: verifying key: %w", err)
	}
	vk.G1.Alpha, vk.G1.Beta, vk.G1.Delta = g1[0], g1[1], g1[2]
	vk.G2.Beta, vk.G2.Gamma, vk.G2.Delta = g2[0], g2[1], g2[2]
	vk.PublicAndCommitmentCommitted = [][]int{}
	if err := vk.Precompute(); err != nil {
		return nil, fmt.Errorf("%w: verifying key: %v", ErrBadInput, err)
	}
	return &VerifyingKey{pred: p, vk: vk}, nil
}

// Hash is SHA-256 of the verifying key's encoding: the identifier published
// on the identity chain next to the key.
func (k *VerifyingKey) Hash() ([32]byte, error) {
	b, err := k.MarshalBinary()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// MarshalBinary encodes the proving key (megabytes).
func (k *ProvingKey) MarshalBinary() ([]byte, error) {
	s, err := k.pred.shape()
	if err != nil {
		return nil, err
	}
	pk := k.pk
	n := s.wires()
	if pk.Domain.Cardinality != s.domain || len(pk.InfinityA) != n || len(pk.InfinityB) != n ||
		len(pk.G1.A) != n-count(pk.InfinityA) || len(pk.G1.B) != n-count(pk.InfinityB) ||
		len(pk.G2.B) != len(pk.G1.B) || len(pk.G1.Z) != int(s.domain)-1 ||
		len(pk.G1.K) != s.secret+s.internal || len(pk.CommitmentKeys) != 0 {
		return nil, fmt.Errorf("%w: proving key does not fit the %s circuit", ErrKeyMismatch, k.pred)
	}
	var e encoder
	e.b = make([]byte, 0, keyHeaderSize+8+5*g1Size+2*n+(len(pk.G1.A)+len(pk.G1.B)+len(pk.G1.Z)+len(pk.G1.K))*g1Size+len(pk.G2.B)*g2Size)
	keyHeader(&e, pkMagic, k.pred, s)
	e.u64(pk.Domain.Cardinality)
	e.g1(pk.G1.Alpha, pk.G1.Beta, pk.G1.Delta)
	e.g2(pk.G2.Beta, pk.G2.Delta)
	e.bits(pk.InfinityA)
	e.bits(pk.InfinityB)
	e.g1(pk.G1.A...)
	e.g1(pk.G1.B...)
	e.g1(pk.G1.Z...)
	e.g1(pk.G1.K...)
	e.g2(pk.G2.B...)
	return e.b, nil
}

// ParseProvingKey decodes MarshalBinary's encoding.
func ParseProvingKey(b []byte) (*ProvingKey, error) {
	d := decoder{b: b}
	p, s, err := readKeyHeader(&d, pkMagic)
	if err != nil {
		return nil, fmt.Errorf("zk: proving key: %w", err)
	}
	if dom := d.u64(); d.err == nil && dom != s.domain {
		return nil, fmt.Errorf("%w: proving key domain %d, circuit needs %d", ErrKeyMismatch, dom, s.domain)
	}
	pk := new(groth16bn254.ProvingKey)
	g1 := d.g1(3)
	g2 := d.g2(2)
	n := s.wires()
	pk.InfinityA = d.bits(n)
	pk.InfinityB = d.bits(n)
	if d.err != nil {
		return nil, fmt.Errorf("zk: proving key: %w", d.err)
	}
	pk.NbInfinityA, pk.NbInfinityB = uint64(count(pk.InfinityA)), uint64(count(pk.InfinityB))
	pk.G1.A = d.g1(n - int(pk.NbInfinityA))
	pk.G1.B = d.g1(n - int(pk.NbInfinityB))
	pk.G1.Z = d.g1(int(s.domain) - 1)
	pk.G1.K = d.g1(s.secret + s.internal)
	pk.G2.B = d.g2(n - int(pk.NbInfinityB))
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("zk: proving key: %w", err)
	}
	pk.G1.Alpha, pk.G1.Beta, pk.G1.Delta = g1[0], g1[1], g1[2]
	pk.G2.Beta, pk.G2.Delta = g2[0], g2[1]
	pk.Domain = *fft.NewDomain(s.domain)
	pk.CommitmentKeys = nil
	return &ProvingKey{pred: p, pk: pk}, nil
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
