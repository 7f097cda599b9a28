package he

import (
	"fmt"
	"sync"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/bgv"
)

// The parameter set (docs/privacy-he.md derives every number):
//
//   - BGV (lattigo's unified BGV/BFV) with ring degree N = 2^13 and 8192
//     plaintext slots; no special modulus P (no evaluation keys are needed
//     for additions), so LogQP = LogQ = 180 (three 60-bit NTT primes).
//     The HE standard (Albrecht et al. 2018, Table 1) allows log q <= 218
//     for 128-bit classical security at N = 8192 with a ternary secret;
//     180 < 218 gives at least 128 bits.
//   - Plaintext modulus T, the largest prime below 2^55 with T = 1 mod 2N
//     (needed for slot batching). Sums are exact modulo T; MaxValue bounds
//     each party's values so the sum never wraps.
//   - Decryption shares carry flooding noise of standard deviation 2^85
//     (see SmudgingSigma).
const (
	LogN = 13
	// Slots is the largest vector a query can aggregate.
	Slots = 1 << LogN
	// PlaintextModulus is T.
	PlaintextModulus uint64 = 36028797018652673
	// MaxParties bounds the number of departments in one query.
	MaxParties = 32
	// SmudgingSigma is the standard deviation of each party's flooding noise
	// in its decryption share (truncated at 6 sigma). It exceeds the largest
	// possible noise of an aggregate of MaxParties fresh ciphertexts
	// (< 2^29) by 2^56, so a share hides the aggregate's noise (and through
	// it the secret key) up to statistical distance < 2^-40 over all 8192
	// coefficients, while the flooded noise of MaxParties shares (< 2^93)
	// stays far below Q/(2T) = 2^124, so decryption never fails.
	SmudgingSigma = float64(1 << 85)
)

// modulusQ is the ciphertext modulus chain, fixed so every party, version and
// platform computes in the same ring (NTT-friendly primes: q = 1 mod 2N).
var modulusQ = []uint64{1152921504606830593, 1152921504606748673, 1152921504606994433}

// MaxValue is the largest value a party may contribute in any slot when n
// parties take part: n*MaxValue(n) < T, so the aggregate never wraps.
func MaxValue(n int) uint64 {
	if n < 1 {
		return 0
	}
	return (PlaintextModulus - 1) / uint64(n)
}

// suite holds the lattigo objects derived from the fixed parameters; they are
// read-only after construction and shared by all parties.
type suite struct {
	params bgv.Parameters
	ringQ  *ring.Ring
	// level is the top ciphertext level.
	level int
}

var theSuite = sync.OnceValues(func() (*suite, error) {
	p, err := bgv.NewParametersFromLiteral(bgv.ParametersLiteral{
		LogN:             LogN,
		Q:                modulusQ,
		PlaintextModulus: PlaintextModulus,
		Xs:               rlwe.DefaultXs,
		Xe:               rlwe.DefaultXe,
	})
	if err != nil {
		return nil, fmt.Errorf("he: parameters: %w", err)
	}
	if p.MaxSlots() != Slots || p.PCount() != 0 {
		return nil, fmt.Errorf("he: parameters give %d slots and %d P moduli", p.MaxSlots(), p.PCount())
	}
	return &suite{params: p, ringQ: p.RingQ(), level: p.MaxLevel()}, nil
})

func getSuite() *suite {
	s, err := theSuite()
	if err != nil {
		// The parameters are constants checked by tests: a failure here is
		// a broken build, not an input error.
		panic(err)
	}
	return s
}

// smudging is the flooding-noise distribution of decryption shares.
func smudging() ring.DiscreteGaussian {
	return ring.DiscreteGaussian{Sigma: SmudgingSigma, Bound: 6 * SmudgingSigma}
}

// LogQP returns log2 of the full modulus, for documentation and checks.
func LogQP() float64 { return getSuite().params.LogQP() }

// SecurityBits is the classical security level the HE standard's table
// gives these parameters (N = 8192, log QP <= 218, ternary secret).
const SecurityBits = 128
