package blockstm

import "testing"

func TestBumpTake(t *testing.T) {
	var b bump[int]
	var got [][]int
	for n := range 3 * bumpChunk {
		s := b.take(n%7 + 1)
		if len(s) != n%7+1 || cap(s) != len(s) {
			t.Fatalf("take(%d): len %d cap %d", n%7+1, len(s), cap(s))
		}
		for i := range s {
			if s[i] != 0 {
				t.Fatalf("take returned a used element")
			}
			s[i] = n + 1
		}
		got = append(got, s)
	}
	for n, s := range got {
		for _, v := range s {
			if v != n+1 {
				t.Fatalf("slice %d overwritten: %v", n, s)
			}
		}
	}
	if s := b.take(bumpChunk + 1); len(s) != bumpChunk+1 {
		t.Fatalf("large take: %d", len(s))
	}
	chunks := len(b.chunks)
	b.reset()
	for range 3 * bumpChunk {
		for _, v := range b.take(1) {
			if v != 0 {
				t.Fatal("reset left a value")
			}
		}
	}
	if len(b.chunks) != chunks {
		t.Fatalf("reset did not reuse the chunks: %d, then %d", chunks, len(b.chunks))
	}
}
