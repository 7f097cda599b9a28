package blockstm

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	prefixes := []string{"", "a", "sys\x00nonce/", "bench\x00acct/", "records\x00r/some-long-id-prefix/", "\xff\xff"}
	reused := &sortBuf{} // odd rounds sort with memory left by earlier ones
	for round := range 300 {
		n := rng.IntN(3000)
		if round%3 == 0 {
			n = rng.IntN(40)
		}
		seen := map[string]bool{}
		var keys []string
		for len(keys) < n {
			b := []byte(prefixes[rng.IntN(len(prefixes))])
			for range rng.IntN(6) {
				b = append(b, byte(rng.IntN(4))*85) // 0, 85, 170, 255
			}
			if k := string(b); !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		if round == 7 { // a chain of prefixes: "", "\x00", "\x00\x00", ...
			keys = keys[:0]
			for i := range 300 {
				keys = append(keys, string(make([]byte, i)))
			}
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		}
		var buf *sortBuf
		if round%2 == 1 {
			buf = reused
		}
		idx := sortKeys(keys, buf)
		got := make([]string, len(idx))
		for i, x := range idx {
			got[i] = keys[x]
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: sortKeys disagrees with slices.Sort", round)
		}
	}
}
