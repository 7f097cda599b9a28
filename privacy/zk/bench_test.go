package zk

import (
	"testing"
)

// BenchmarkCircuit reports, per predicate, the constraint count and the
// time to prove and to verify, and the proof size. Keys from gnark's
// single-party setup (the ceremony's keys have the same shape and cost).
//
//	go test -run='^$' -bench=BenchmarkCircuit -benchtime=5x ./privacy/zk/
func BenchmarkCircuit(b *testing.B) {
	f := newFixture(b)
	for _, p := range Predicates {
		b.Run(p.String(), func(b *testing.B) {
			keys := benchKeys(b, p)
			st, w := f.statement(b, p), f.witness(b)
			n, err := p.Constraints()
			if err != nil {
				b.Fatal(err)
			}
			proof, err := Prove(keys.Proving, &st, &w)
			if err != nil {
				b.Fatal(err)
			}
			pb, _ := proof.MarshalBinary()
			pkb, err := keys.Proving.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			vkb, err := keys.Verifying.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.Run("prove", func(b *testing.B) {
				for b.Loop() {
					if _, err := Prove(keys.Proving, &st, &w); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n), "constraints")
				b.ReportMetric(float64(len(pkb)), "pk-bytes")
			})
			b.Run("verify", func(b *testing.B) {
				for b.Loop() {
					if err := Verify(keys.Verifying, &st, proof); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(pb)), "proof-bytes")
				b.ReportMetric(float64(len(vkb)), "vk-bytes")
			})
		})
	}
}

func benchKeys(b *testing.B, p Predicate) Keys {
	b.Helper()
	k, err := singlePartyKeys(p)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkCeremony times one contribution to each phase at the real
// sizes (phase 1 at CeremonyDomain, phase 2 for each predicate), and the
// verification of a one-contribution transcript.
//
//	go test -run='^$' -bench=BenchmarkCeremony -benchtime=1x ./privacy/zk/
func BenchmarkCeremony(b *testing.B) {
	start, err := Phase1Start()
	if err != nil {
		b.Fatal(err)
	}
	var c1 []byte
	b.Run("phase1-contribute", func(b *testing.B) {
		for b.Loop() {
			if c1, err = Phase1Contribute(start); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(start)), "state-bytes")
	})
	var srs *SRS
	b.Run("phase1-verify", func(b *testing.B) {
		for b.Loop() {
			if srs, err = Phase1Verify([][]byte{c1}, beacon); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, p := range Predicates {
		s0, err := Phase2Start(p, srs)
		if err != nil {
			b.Fatal(err)
		}
		var s1 []byte
		b.Run(p.String()+"/phase2-contribute", func(b *testing.B) {
			for b.Loop() {
				if s1, err = Phase2Contribute(p, s0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(s0)), "state-bytes")
		})
		b.Run(p.String()+"/phase2-finish", func(b *testing.B) {
			for b.Loop() {
				pk, vk, err := Phase2Finish(p, srs, [][]byte{s1}, beacon)
				if err != nil {
					b.Fatal(err)
				}
				// The ceremony's keys prove and verify.
				f := newFixture(b)
				st, w := f.statement(b, p), f.witness(b)
				proof, err := Prove(pk, &st, &w)
				if err != nil {
					b.Fatal(err)
				}
				if err := Verify(vk, &st, proof); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
