package he

import (
	"math/big"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
)

// TestParameters checks the fixed moduli: T and every q_i prime and
// NTT-friendly (= 1 mod 2N), T below every q_i, log QP within the HE
// standard's 218-bit bound for N = 8192.
func TestParameters(t *testing.T) {
	check := func(name string, v uint64) {
		b := new(big.Int).SetUint64(v)
		if !b.ProbablyPrime(64) || v%(2*Slots) != 1 {
			t.Errorf("%s = %d is not a prime = 1 mod %d", name, v, 2*Slots)
		}
	}
	check("T", PlaintextModulus)
	for i, q := range modulusQ {
		check("q"+string(rune('0'+i)), q)
		if q <= PlaintextModulus {
			t.Errorf("q%d <= T", i)
		}
	}
	if l := LogQP(); l > 218 || l < 179 {
		t.Errorf("log QP = %f", l)
	}
	if MaxValue(MaxParties)*MaxParties >= PlaintextModulus || MaxValue(0) != 0 {
		t.Error("MaxValue does not bound the sum below T")
	}
	// The worst-case flooded noise, MaxParties shares at 6 sigma each, must
	// stay below Q/(2T) (docs/privacy-he.md, "Correctness").
	q := big.NewInt(1)
	for _, qi := range modulusQ {
		q.Mul(q, new(big.Int).SetUint64(qi))
	}
	bound := new(big.Int).Div(q, new(big.Int).SetUint64(2*PlaintextModulus))
	noise, _ := new(big.Float).SetFloat64(MaxParties * 6 * 1.0001 * SmudgingSigma).Int(nil)
	noise.Add(noise, big.NewInt(1<<29))
	if noise.Cmp(bound) >= 0 {
		t.Errorf("flooded noise %v reaches Q/2T %v", noise, bound)
	}
}

// runCrypto runs the lattigo steps for n parties without messages and
// returns the aggregate, the threshold shares and the expected sum.
func runCrypto(t *testing.T, n, th, vlen int) (*rlwe.Ciphertext, []ring.Poly, []uint64) {
	t.Helper()
	s := getSuite()
	crp := sampleCRP("q1")
	sks := make([]*rlwe.SecretKey, n)
	kshares := make([]ring.Poly, n)
	shamir := make([][]ring.Poly, n) // shamir[i][j]: from i to j
	for i := range n {
		sks[i] = rlwe.NewKeyGenerator(s.params).GenSecretKeyNew()
		kshares[i] = keyGenShare(sks[i], crp)
		var err error
		if shamir[i], err = shamirShares(sks[i], th, n); err != nil {
			t.Fatal(err)
		}
	}
	pk := collectivePublicKey(kshares, crp)
	want := make([]uint64, vlen)
	cts := make([]*rlwe.Ciphertext, n)
	for i := range n {
		v := make([]uint64, vlen)
		for j := range v {
			v[j] = uint64(i*1000+j) % MaxValue(n)
		}
		v[0] = MaxValue(n)
		for j := range v {
			want[j] += v[j]
		}
		ct, err := encrypt(pk, v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := readCiphertext(appendCiphertext(nil, ct))
		if err != nil {
			t.Fatal(err)
		}
		cts[i] = back
	}
	tsh := make([]ring.Poly, n)
	for j := range n {
		col := make([]ring.Poly, n)
		for i := range n {
			col[i] = shamir[i][j]
		}
		tsh[j] = sumPolys(col)
	}
	return sumCiphertexts(cts), tsh, want
}

func TestCryptoThreshold(t *testing.T) {
	n, th := 4, 3
	agg, tsh, want := runCrypto(t, n, th, 100)
	for _, set := range [][]int{{0, 1, 2}, {1, 2, 3}, {0, 2, 3}} {
		var shares []ring.Poly
		for _, m := range set {
			sh, err := decryptionShare(tsh[m], set, m, th, n, agg)
			if err != nil {
				t.Fatal(err)
			}
			shares = append(shares, sh)
		}
		got, err := decryptWithShares(agg, shares, len(want))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("set %v: got %v..., want %v...", set, got[:4], want[:4])
		}
		// Two of the three shares decrypt to noise.
		got, err = decryptWithShares(agg, shares[:2], len(want))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(got, want) {
			t.Fatalf("set %v: two shares decrypted", set)
		}
	}
}
