package he

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
)

// Benchmarks: parties {4, 8, 16} x vectors of 4096 values, threshold
// ceil(2n/3). Each measures one party's (or the aggregator's) work for one
// step, as the protocol runs it, including encodings and sealing:
//
//	go test -run '^$' -bench . -benchtime 5x ./privacy/he/
func BenchmarkHE(b *testing.B) {
	const vlen = 4096
	for _, n := range []int{4, 8, 16} {
		th := (2*n + 2) / 3
		s := getSuite()
		crp := sampleCRP("bench")
		boxes := make([]*ecdh.PrivateKey, n)
		for i := range boxes {
			boxes[i], _ = ecdh.X25519().GenerateKey(rand.Reader)
		}
		sks := make([]*rlwe.SecretKey, n)
		kshares := make([]ring.Poly, n)
		shamir := make([][]ring.Poly, n)
		for i := range n {
			sks[i] = rlwe.NewKeyGenerator(s.params).GenSecretKeyNew()
			kshares[i] = keyGenShare(sks[i], crp)
			shamir[i], _ = shamirShares(sks[i], th, n)
		}
		pk := collectivePublicKey(kshares, crp)
		vals := make([]uint64, vlen)
		for i := range vals {
			vals[i] = uint64(i)
		}
		cts := make([]*rlwe.Ciphertext, n)
		for i := range cts {
			cts[i], _ = encrypt(pk, vals)
		}
		agg := sumCiphertexts(cts)
		tsh := make([]ring.Poly, n)
		for j := range n {
			col := make([]ring.Poly, n)
			for i := range n {
				col[i] = shamir[i][j]
			}
			tsh[j] = sumPolys(col)
		}
		set := make([]int, th)
		for i := range set {
			set[i] = i
		}
		name := fmt.Sprintf("parties=%d/t=%d/values=%d", n, th, vlen)

		// keygen: one party's round 1 (secret key, key share, n-1 sealed
		// Shamir shares) and its completion (open n-1 shares, sum them, sum
		// the n key shares into the collective key).
		b.Run("keygen/"+name, func(b *testing.B) {
			sealed := make([][]byte, n)
			for j := 1; j < n; j++ {
				sealed[j], _ = sealTo(boxes[0].PublicKey().Bytes(), "bench", "x", "y", appendPoly(nil, shamir[j][0]))
			}
			b.ResetTimer()
			bytesOut := 0
			for b.Loop() {
				sk := rlwe.NewKeyGenerator(s.params).GenSecretKeyNew()
				bytesOut = len(appendPoly(nil, keyGenShare(sk, crp)))
				shares, err := shamirShares(sk, th, n)
				if err != nil {
					b.Fatal(err)
				}
				for j := 1; j < n; j++ {
					out, err := sealTo(boxes[j].PublicKey().Bytes(), "bench", "x", "y", appendPoly(nil, shares[j]))
					if err != nil {
						b.Fatal(err)
					}
					bytesOut += len(out)
				}
				got := []ring.Poly{shares[0]}
				for j := 1; j < n; j++ {
					pt, err := openFrom(boxes[0], "bench", "x", "y", sealed[j])
					if err != nil {
						b.Fatal(err)
					}
					p, err := readPoly(pt)
					if err != nil {
						b.Fatal(err)
					}
					got = append(got, p)
				}
				_ = sumPolys(got)
				_ = publicKeyHash(collectivePublicKey(kshares, crp))
			}
			b.ReportMetric(float64(bytesOut), "sent-bytes/party")
		})
		b.Run("encrypt/"+name, func(b *testing.B) {
			var size int
			for b.Loop() {
				ct, err := encrypt(pk, vals)
				if err != nil {
					b.Fatal(err)
				}
				size = len(appendCiphertext(nil, ct))
			}
			b.ReportMetric(float64(size), "ct-bytes")
		})
		b.Run("aggregate/"+name, func(b *testing.B) {
			enc := make([][]byte, n)
			for i := range enc {
				enc[i] = appendCiphertext(nil, cts[i])
			}
			b.ResetTimer()
			for b.Loop() {
				dec := make([]*rlwe.Ciphertext, n)
				for i := range dec {
					var err error
					if dec[i], err = readCiphertext(enc[i]); err != nil {
						b.Fatal(err)
					}
				}
				_ = aggregateHash(sumCiphertexts(dec))
			}
		})
		b.Run("decrypt-share/"+name, func(b *testing.B) {
			for b.Loop() {
				sh, err := decryptionShare(tsh[0], set, 0, th, n, agg)
				if err != nil {
					b.Fatal(err)
				}
				_ = appendPoly(nil, sh)
			}
			b.ReportMetric(float64(polySize()+32), "share-bytes")
		})
		b.Run("decrypt-combine/"+name, func(b *testing.B) {
			shares := make([]ring.Poly, th)
			for i, m := range set {
				shares[i], _ = decryptionShare(tsh[m], set, m, th, n, agg)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := decryptWithShares(agg, shares, vlen); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
