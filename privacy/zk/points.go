package zk

import (
	"encoding/binary"
	"fmt"

	curve "github.com/consensys/gnark-crypto/ecc/bn254"
)

// Strict encoding of BN254 points for keys and proofs: compressed form only,
// decoded with gnark-crypto's curve and subgroup checks and re-encoded to
// reject non-canonical bytes. Counts are never read from the input: the
// caller knows them from the circuit, so no decoder allocates on a
// stranger's say-so.

const (
	g1Size = curve.SizeOfG1AffineCompressed // 32
	g2Size = curve.SizeOfG2AffineCompressed // 64
)

type encoder struct{ b []byte }

func (e *encoder) g1(ps ...curve.G1Affine) {
	for i := range ps {
		b := ps[i].Bytes()
		e.b = append(e.b, b[:]...)
	}
}

func (e *encoder) g2(ps ...curve.G2Affine) {
	for i := range ps {
		b := ps[i].Bytes()
		e.b = append(e.b, b[:]...)
	}
}

func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *encoder) bits(bs []bool) {
	out := make([]byte, (len(bs)+7)/8)
	for i, v := range bs {
		if v {
			out[i/8] |= 1 << (i % 8)
		}
	}
	e.b = append(e.b, out...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.err = fmt.Errorf("%w: truncated", ErrBadInput)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) g1(n int) []curve.G1Affine {
	raw := d.take(n * g1Size)
	if d.err != nil {
		return nil
	}
	ps := make([]curve.G1Affine, n)
	for i := range ps {
		in := raw[i*g1Size : (i+1)*g1Size]
		if _, err := ps[i].SetBytes(in); err != nil {
			d.err = fmt.Errorf("%w: G1 point: %v", ErrBadInput, err)
			return nil
		}
		if enc := ps[i].Bytes(); string(enc[:]) != string(in) {
			d.err = fmt.Errorf("%w: G1 point not canonical", ErrBadInput)
			return nil
		}
	}
	return ps
}

func (d *decoder) g2(n int) []curve.G2Affine {
	raw := d.take(n * g2Size)
	if d.err != nil {
		return nil
	}
	ps := make([]curve.G2Affine, n)
	for i := range ps {
		in := raw[i*g2Size : (i+1)*g2Size]
		if _, err := ps[i].SetBytes(in); err != nil {
			d.err = fmt.Errorf("%w: G2 point: %v", ErrBadInput, err)
			return nil
		}
		if enc := ps[i].Bytes(); string(enc[:]) != string(in) {
			d.err = fmt.Errorf("%w: G2 point not canonical", ErrBadInput)
			return nil
		}
	}
	return ps
}

func (d *decoder) u64() uint64 {
	b := d.take(8)
	if d.err != nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// bits reads a bitmap of n bits; padding bits must be 0.
func (d *decoder) bits(n int) []bool {
	raw := d.take((n + 7) / 8)
	if d.err != nil {
		return nil
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = raw[i/8]>>(i%8)&1 == 1
	}
	if n%8 != 0 && raw[len(raw)-1]>>(n%8) != 0 {
		d.err = fmt.Errorf("%w: bitmap padding not zero", ErrBadInput)
	}
	return out
}

// done reports the first error, or trailing bytes.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrBadInput, len(d.b))
	}
	return d.err
}
