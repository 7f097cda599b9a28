package zk

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/constraint"
	cs "github.com/consensys/gnark/constraint/bn254"
)

// shape is what keys and ceremony states must agree with: derived from the
// compiled circuit, never from a decoded file.
type shape struct {
	constraints int
	public      int // public wires, including the constant 1
	secret      int
	internal    int
	domain      uint64   // FFT domain: constraints rounded up to a power of 2
	digest      [32]byte // SHA-256 over the R1CS, see circuitDigest
}

func (s *shape) wires() int { return s.public + s.secret + s.internal }

var shapes [InRange + 1]struct {
	once sync.Once
	s    *shape
}

func (p Predicate) shape() (*shape, error) {
	ccs, err := p.constraintSystem()
	if err != nil {
		return nil, err
	}
	sh := &shapes[p]
	sh.once.Do(func() { sh.s = shapeOf(uint64(p), ccs) })
	return sh.s, nil
}

// shapeOf measures a compiled circuit. The digest is SHA-256 of the
// sizes, every constraint's terms (wire, coefficient index) and the
// coefficient table: a key made for another version of the circuit
// carries another digest.
func shapeOf(id uint64, ccs *cs.R1CS) *shape {
	internal, secret, public := ccs.GetNbVariables()
	s := &shape{
		constraints: ccs.GetNbConstraints(),
		public:      public, secret: secret, internal: internal,
		domain: ecc.NextPowerOfTwo(uint64(ccs.GetNbConstraints())),
	}
	h := sha256.New()
	var buf []byte
	u := func(v uint64) { buf = binary.BigEndian.AppendUint64(buf[:0], v); h.Write(buf) }
	u(id)
	u(uint64(s.constraints))
	u(uint64(public))
	u(uint64(secret))
	u(uint64(internal))
	it := ccs.GetR1CIterator()
	for c := it.Next(); c != nil; c = it.Next() {
		for _, terms := range [3][]constraint.Term{c.L, c.R, c.O} {
			u(uint64(len(terms)))
			for _, t := range terms {
				u(uint64(t.WireID())<<32 | uint64(t.CoeffID()))
			}
		}
	}
	u(uint64(len(ccs.Coefficients)))
	for i := range ccs.Coefficients {
		b := ccs.Coefficients[i].Bytes()
		h.Write(b[:])
	}
	copy(s.digest[:], h.Sum(nil))
	return s
}

// CeremonyDomain is the phase-1 domain size: the largest circuit's domain.
// One phase 1 serves every predicate.
func CeremonyDomain() (uint64, error) {
	var n uint64
	for _, p := range Predicates {
		s, err := p.shape()
		if err != nil {
			return 0, err
		}
		n = max(n, s.domain)
	}
	return n, nil
}
