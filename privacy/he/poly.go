package he

import (
	"encoding/binary"
	"fmt"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// polySize is the encoded size of one polynomial modulo Q: N coefficients
// per modulus, 8 bytes each.
func polySize() int { return Slots * len(modulusQ) * 8 }

// appendPoly appends p's coefficients modulo each q_i, little-endian, in the
// representation (NTT or not) the protocol uses for that value.
func appendPoly(dst []byte, p ring.Poly) []byte {
	for _, row := range p.Coeffs {
		for _, c := range row {
			dst = binary.LittleEndian.AppendUint64(dst, c)
		}
	}
	return dst
}

// readPoly decodes exactly polySize bytes into a new polynomial, refusing
// coefficients not reduced modulo their q_i (lattigo's arithmetic assumes
// reduced inputs).
func readPoly(b []byte) (ring.Poly, error) {
	if len(b) != polySize() {
		return ring.Poly{}, fmt.Errorf("%w: polynomial of %d bytes, want %d", ErrMalformed, len(b), polySize())
	}
	s := getSuite()
	p := s.ringQ.NewPoly()
	for i, q := range modulusQ {
		row := p.Coeffs[i]
		for j := range row {
			c := binary.LittleEndian.Uint64(b[(i*Slots+j)*8:])
			if c >= q {
				return ring.Poly{}, fmt.Errorf("%w: coefficient %d of modulus %d not reduced", ErrMalformed, j, i)
			}
			row[j] = c
		}
	}
	return p, nil
}
