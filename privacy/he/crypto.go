package he

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/multiparty"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/ring/ringqp"
	"github.com/tuneinsight/lattigo/v6/schemes/bgv"
)

// This file holds the lattigo operations of the protocol, one function per
// step, free of message handling. Polynomials are modulo Q only (the
// parameters have no P modulus).

// shamirPoint is member i's public Shamir evaluation point (nonzero, distinct).
func shamirPoint(i int) multiparty.ShamirPublicPoint { return multiparty.ShamirPublicPoint(i + 1) }

func qpPoly(q ring.Poly) ringqp.Poly { return ringqp.Poly{Q: q} }

// sampleCRP derives the query's common random polynomial for key generation.
func sampleCRP(queryID string) multiparty.PublicKeyGenCRP {
	return multiparty.NewPublicKeyGenProtocol(getSuite().params).SampleCRP(crs(queryID))
}

// keyGenShare is -crp*s_i + e_i (Mouchet et al. 2021, Protocol 1, EncKeyGen).
func keyGenShare(sk *rlwe.SecretKey, crp multiparty.PublicKeyGenCRP) ring.Poly {
	ckg := multiparty.NewPublicKeyGenProtocol(getSuite().params)
	sh := ckg.AllocateShare()
	ckg.GenShare(sk, crp, &sh)
	return sh.Value.Q
}

// collectivePublicKey sums the N key-generation shares into (sum, crp).
func collectivePublicKey(shares []ring.Poly, crp multiparty.PublicKeyGenCRP) *rlwe.PublicKey {
	s := getSuite()
	ckg := multiparty.NewPublicKeyGenProtocol(s.params)
	agg := ckg.AllocateShare()
	for _, sh := range shares {
		ckg.AggregateShares(agg, multiparty.PublicKeyGenShare{Value: qpPoly(sh)}, &agg)
	}
	pk := rlwe.NewPublicKey(s.params)
	ckg.GenPublicKey(agg, crp, pk)
	return pk
}

func publicKeyHash(pk *rlwe.PublicKey) [32]byte {
	return labelled(labelPK, appendPoly(nil, pk.Value[0].Q), appendPoly(nil, pk.Value[1].Q))
}

// shamirShares splits sk with a random degree-(t-1) polynomial and evaluates
// it at every member's point (Mouchet et al. 2022, Thresholdize).
func shamirShares(sk *rlwe.SecretKey, t, n int) ([]ring.Poly, error) {
	thr := multiparty.NewThresholdizer(getSuite().params)
	poly, err := thr.GenShamirPolynomial(t, sk)
	if err != nil {
		return nil, err
	}
	out := make([]ring.Poly, n)
	for i := range out {
		sh := thr.AllocateThresholdSecretShare()
		thr.GenShamirSecretShare(shamirPoint(i), poly, &sh)
		out[i] = sh.Poly.Q
	}
	for i := range poly.Value {
		zero(poly.Value[i].Q)
	}
	return out, nil
}

// sumPolys adds ps modulo Q into a new polynomial.
func sumPolys(ps []ring.Poly) ring.Poly {
	r := getSuite().ringQ
	acc := r.NewPoly()
	for _, p := range ps {
		r.Add(acc, p, acc)
	}
	return acc
}

func zero(p ring.Poly) {
	for _, row := range p.Coeffs {
		clear(row)
	}
}

// encrypt encodes values into slots (zero-padded) and encrypts under pk.
func encrypt(pk *rlwe.PublicKey, values []uint64) (*rlwe.Ciphertext, error) {
	s := getSuite()
	pt := bgv.NewPlaintext(s.params, s.level)
	if err := bgv.NewEncoder(s.params).Encode(values, pt); err != nil {
		return nil, err
	}
	ct := bgv.NewCiphertext(s.params, 1, s.level)
	if err := rlwe.NewEncryptor(s.params, pk).Encrypt(pt, ct); err != nil {
		return nil, err
	}
	return ct, nil
}

func appendCiphertext(dst []byte, ct *rlwe.Ciphertext) []byte {
	return appendPoly(appendPoly(dst, ct.Value[0]), ct.Value[1])
}

// readCiphertext decodes two polynomials into a fresh top-level ciphertext.
// Metadata is never read from the wire: it is that of a fresh encryption.
func readCiphertext(b []byte) (*rlwe.Ciphertext, error) {
	if len(b) != 2*polySize() {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes, want %d", ErrMalformed, len(b), 2*polySize())
	}
	s := getSuite()
	ct := bgv.NewCiphertext(s.params, 1, s.level)
	for i := range 2 {
		p, err := readPoly(b[i*polySize() : (i+1)*polySize()])
		if err != nil {
			return nil, err
		}
		ct.Value[i] = p
	}
	return ct, nil
}

// sumCiphertexts adds the contributions; addition mod Q is all the
// aggregation needs, so no evaluation key is involved.
func sumCiphertexts(cts []*rlwe.Ciphertext) *rlwe.Ciphertext {
	s := getSuite()
	out := bgv.NewCiphertext(s.params, 1, s.level)
	for _, ct := range cts {
		s.ringQ.Add(out.Value[0], ct.Value[0], out.Value[0])
		s.ringQ.Add(out.Value[1], ct.Value[1], out.Value[1])
	}
	return out
}

func aggregateHash(ct *rlwe.Ciphertext) [32]byte {
	return labelled(labelAggregate, appendCiphertext(nil, ct))
}

// decryptionShare computes member own's share for decrypting ct with the
// decryption set: its Shamir share times its Lagrange coefficient for the
// set (Mouchet et al. 2022, Combine) used as the input key of a key switch
// to the zero key, flooded with noise of SmudgingSigma (Mouchet et al. 2021,
// Protocol 3, KeySwitch).
func decryptionShare(tshare ring.Poly, set []int, own, t, n int, ct *rlwe.Ciphertext) (ring.Poly, error) {
	s := getSuite()
	all := make([]multiparty.ShamirPublicPoint, n)
	for i := range all {
		all[i] = shamirPoint(i)
	}
	active := make([]multiparty.ShamirPublicPoint, len(set))
	for i, m := range set {
		active[i] = shamirPoint(m)
	}
	cmb := multiparty.NewCombiner(s.params, shamirPoint(own), all, t)
	add := rlwe.NewSecretKey(s.params)
	defer zero(add.Value.Q)
	if err := cmb.GenAdditiveShare(active, shamirPoint(own), multiparty.ShamirSecretShare{Poly: qpPoly(tshare)}, add); err != nil {
		return ring.Poly{}, err
	}
	ks, err := multiparty.NewKeySwitchProtocol(s.params, smudging())
	if err != nil {
		return ring.Poly{}, err
	}
	sh := ks.AllocateShare(s.level)
	ks.GenShare(add, rlwe.NewSecretKey(s.params), ct, &sh)
	// GenShare leaves coefficients lazily reduced (below 2q); the wire
	// format carries reduced ones.
	s.ringQ.Reduce(sh.Value, sh.Value)
	return sh.Value, nil
}

// decryptWithShares adds the shares to ct's first component and decodes the
// first vectorLen slots. With fewer than t shares of the set the result is
// noise: the caller enforces the threshold and this function does not.
func decryptWithShares(ct *rlwe.Ciphertext, shares []ring.Poly, vectorLen int) ([]uint64, error) {
	s := getSuite()
	ks, err := multiparty.NewKeySwitchProtocol(s.params, smudging())
	if err != nil {
		return nil, err
	}
	combined := multiparty.KeySwitchShare{Value: sumPolys(shares)}
	out := bgv.NewCiphertext(s.params, 1, s.level)
	ks.KeySwitch(ct, combined, out)
	pt := bgv.NewPlaintext(s.params, s.level)
	rlwe.NewDecryptor(s.params, rlwe.NewSecretKey(s.params)).Decrypt(out, pt)
	vals := make([]uint64, Slots)
	if err := bgv.NewEncoder(s.params).Decode(pt, vals); err != nil {
		return nil, err
	}
	return vals[:vectorLen], nil
}
