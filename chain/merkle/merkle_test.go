package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

var suite = ed25519sha256.New()

// naiveRoot is RFC 6962 section 2.1 MTH, written as the RFC does: split at
// the largest power of two smaller than n.
func naiveRoot(s crypto.Suite, leaves []crypto.Hash) crypto.Hash {
	switch n := len(leaves); n {
	case 0:
		return s.Hash()
	case 1:
		return leaves[0]
	default:
		k := splitPoint(n)
		l, r := naiveRoot(s, leaves[:k]), naiveRoot(s, leaves[k:])
		return s.Hash([]byte{1}, l[:], r[:])
	}
}

// naivePath is RFC 6962 section 2.1.1 PATH(m, D[n]), leaf side first.
func naivePath(s crypto.Suite, m int, leaves []crypto.Hash) []crypto.Hash {
	n := len(leaves)
	if n <= 1 {
		return nil
	}
	k := splitPoint(n)
	if m < k {
		return append(naivePath(s, m, leaves[:k]), naiveRoot(s, leaves[k:]))
	}
	return append(naivePath(s, m-k, leaves[k:]), naiveRoot(s, leaves[:k]))
}

func splitPoint(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func testLeaves(s crypto.Suite, n int) []crypto.Hash {
	leaves := make([]crypto.Hash, n)
	for i := range leaves {
		leaves[i] = LeafHash(s, fmt.Appendf(nil, "leaf %d", i))
	}
	return leaves
}

func TestKnownAnswers(t *testing.T) {
	// RFC 6962: the hash of an empty list is the hash of an empty string.
	want := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if got := Root(suite, nil).String(); got != want {
		t.Fatalf("empty root %s, want %s", got, want)
	}
	if got := Root(suite, []crypto.Hash{}).String(); got != want {
		t.Fatalf("empty root %s, want %s", got, want)
	}
	// Leaf hash of the empty leaf: SHA-256(0x00), as in Certificate Transparency.
	if got := LeafHash(suite, nil).String(); got != "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d" {
		t.Fatalf("leaf hash of empty leaf %s", got)
	}
	// One leaf: the root is its leaf hash.
	l := LeafHash(suite, []byte("a"))
	if l != sha256.Sum256([]byte("\x00a")) || Root(suite, []crypto.Hash{l}) != l {
		t.Fatal("single-leaf root is not the leaf hash")
	}
	// Two leaves: SHA-256(0x01 || l0 || l1).
	r := LeafHash(suite, []byte("b"))
	if Root(suite, []crypto.Hash{l, r}) != sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...)) {
		t.Fatal("two-leaf root")
	}
	// RFC 6962 / Certificate Transparency test vectors (the 8-leaf tree of
	// the reference implementation's merkle_tree_test.cc).
	ctLeaves := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	ctRoots := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	var leaves []crypto.Hash
	for i, hx := range ctLeaves {
		b, _ := hex.DecodeString(hx)
		leaves = append(leaves, LeafHash(suite, b))
		if got := Root(suite, leaves).String(); got != ctRoots[i] {
			t.Fatalf("CT vector %d: root %s, want %s", i+1, got, ctRoots[i])
		}
	}
}

func TestRootMatchesRFC6962(t *testing.T) {
	for _, s := range []crypto.Suite{suite, sm2sm3.New()} {
		all := testLeaves(s, 70)
		for n := 0; n <= 70; n++ {
			leaves := all[:n]
			before := append([]crypto.Hash(nil), leaves...)
			if got, want := Root(s, leaves), naiveRoot(s, leaves); got != want {
				t.Fatalf("%s n=%d: Root %s, RFC 6962 %s", s.Name(), n, got, want)
			}
			for i := range leaves {
				if leaves[i] != before[i] {
					t.Fatalf("Root modified its input at %d", i)
				}
			}
		}
	}
}

func TestPathMatchesRFC6962AndVerifies(t *testing.T) {
	all := testLeaves(suite, 70)
	for n := 1; n <= 70; n++ {
		leaves := all[:n]
		root := Root(suite, leaves)
		for i := 0; i < n; i++ {
			p := Path(suite, leaves, i)
			want := naivePath(suite, i, leaves)
			if len(p) != len(want) {
				t.Fatalf("n=%d i=%d: path length %d, RFC 6962 %d", n, i, len(p), len(want))
			}
			for j := range p {
				if p[j] != want[j] {
					t.Fatalf("n=%d i=%d: path[%d] differs from RFC 6962", n, i, j)
				}
			}
			if err := Verify(suite, root, leaves[i], uint64(i), uint64(n), p); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
		}
	}
}

func TestPathOutOfRange(t *testing.T) {
	leaves := testLeaves(suite, 5)
	for _, i := range []int{-1, 5, 6} {
		if p := Path(suite, leaves, i); p != nil {
			t.Fatalf("Path(%d) = %v", i, p)
		}
	}
	if p := Path(suite, nil, 0); p != nil {
		t.Fatal("path in an empty tree")
	}
	if p := Path(suite, leaves[:1], 0); len(p) != 0 {
		t.Fatal("non-empty path in a one-leaf tree")
	}
}

func TestVerifyRejects(t *testing.T) {
	all := testLeaves(suite, 70)
	other := LeafHash(suite, []byte("not a leaf"))
	wrongSizes := 0
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 64, 70} {
		leaves := all[:n]
		root := Root(suite, leaves)
		for i := 0; i < n; i++ {
			p := Path(suite, leaves, i)
			fail := func(what string, root, leaf crypto.Hash, i, n uint64, path []crypto.Hash) {
				t.Helper()
				if err := Verify(suite, root, leaf, i, n, path); !errors.Is(err, ErrBadProof) {
					t.Fatalf("n=%d i=%d: %s accepted (%v)", len(leaves), i, what, err)
				}
			}
			ui, un := uint64(i), uint64(n)
			fail("wrong leaf", root, other, ui, un, p)
			fail("wrong root", other, leaves[i], ui, un, p)
			fail("i = n", root, leaves[i], un, un, p)
			fail("i > n", root, leaves[i], un+5, un, p)
			fail("n = 0", root, leaves[i], 0, 0, p)
			for _, j := range []int{i - 1, i + 1, i ^ 1, i + 2, n - 1 - i} {
				if j >= 0 && j < n && j != i && leaves[j] != leaves[i] {
					fail(fmt.Sprintf("index %d", j), root, leaves[i], uint64(j), un, p)
				}
			}
			// RFC 9162 verification binds n only through the path's shape:
			// a size giving the same shape for i recomputes the same root.
			// Every other size must fail.
			for m := 1; m <= 2*n+70; m++ {
				if m == n || i >= m {
					continue
				}
				err := Verify(suite, root, leaves[i], ui, uint64(m), p)
				if same := slices.Equal(shape(i, n), shape(i, m)); same != (err == nil) {
					t.Fatalf("n=%d i=%d: size %d (same shape %v): %v", n, i, m, same, err)
				}
				if err != nil {
					wrongSizes++
				}
			}
			for j := range p {
				mod := append([]crypto.Hash(nil), p...)
				mod[j][j%32] ^= 1
				fail(fmt.Sprintf("modified path[%d]", j), root, leaves[i], ui, un, mod)
			}
			fail("extra element at end", root, leaves[i], ui, un, append(append([]crypto.Hash(nil), p...), other))
			fail("extra element at start", root, leaves[i], ui, un, append([]crypto.Hash{other}, p...))
			if len(p) > 0 {
				fail("missing last element", root, leaves[i], ui, un, p[:len(p)-1])
				fail("missing first element", root, leaves[i], ui, un, p[1:])
			}
			if len(p) > 1 {
				sw := append([]crypto.Hash(nil), p...)
				sw[0], sw[1] = sw[1], sw[0]
				fail("swapped elements", root, leaves[i], ui, un, sw)
			}
		}
	}
	if wrongSizes == 0 {
		t.Fatal("no wrong size was rejected")
	}
	// The path of the only leaf is empty, and nothing may be appended.
	one := all[:1]
	if err := Verify(suite, one[0], one[0], 0, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := Verify(suite, one[0], one[0], 0, 1, []crypto.Hash{one[0]}); err == nil {
		t.Fatal("one-leaf tree accepted a path element")
	}
	// Overlong paths are refused outright.
	long := make([]crypto.Hash, MaxPath+1)
	if err := Verify(suite, one[0], one[0], 0, ^uint64(0), long); !errors.Is(err, ErrBadProof) {
		t.Fatal("overlong path accepted")
	}
}

// TestVerifyHugeIndices checks Verify on sizes far beyond what Root can build.
func TestVerifyHugeIndices(t *testing.T) {
	// In a perfect tree of 2^k leaves with all leaves equal, level j holds
	// the same hash everywhere, so the path of any index is the list of
	// per-level hashes.
	leaf := LeafHash(suite, []byte("x"))
	level := leaf
	var path []crypto.Hash
	for k := 0; k < MaxPath; k++ {
		path = append(path, level)
		level = suite.Hash([]byte{1}, level[:], level[:])
	}
	// path[k] is the root of 2^k leaves; take the tree of 2^63.
	root := path[63]
	n := uint64(1) << 63
	for _, i := range []uint64{0, 1, n / 2, n - 1, 0x5555555555555555} {
		if err := Verify(suite, root, leaf, i, n, path[:63]); err != nil {
			t.Fatalf("i=%d of 2^63: %v", i, err)
		}
	}
	if err := Verify(suite, root, leaf, n, n, path[:63]); err == nil {
		t.Fatal("i = n accepted")
	}
	if err := Verify(suite, root, leaf, 0, n, path[:62]); err == nil {
		t.Fatal("short path accepted")
	}
}

// shape is the RFC 6962 audit path of leaf i of n as directions, leaf side
// first: true where the sibling is on the left.
func shape(i, n int) []bool {
	if n <= 1 {
		return nil
	}
	k := splitPoint(n)
	if i < k {
		return append(shape(i, k), false)
	}
	return append(shape(i-k, n-k), true)
}

// FuzzVerify checks Verify against the shape oracle: an honest path verifies
// exactly for the (index, size) pairs with its shape, and a changed path never.
func FuzzVerify(f *testing.F) {
	f.Add(uint8(5), uint8(2), uint8(5), uint8(2), []byte{})
	f.Add(uint8(70), uint8(69), uint8(70), uint8(69), []byte{0, 0})
	f.Add(uint8(3), uint8(2), uint8(2), uint8(1), []byte{})
	f.Add(uint8(1), uint8(0), uint8(1), uint8(0), []byte{1, 7})
	all := testLeaves(suite, 256)
	f.Fuzz(func(t *testing.T, n, i, vn, vi uint8, mods []byte) {
		if n == 0 || i >= n {
			return
		}
		leaves := all[:n]
		root := Root(suite, leaves)
		p := Path(suite, leaves, int(i))
		orig := append([]crypto.Hash(nil), p...)
		// Each pair of mod bytes flips one bit of one path element.
		for k := 0; k+1 < len(mods) && len(p) > 0; k += 2 {
			j := int(mods[k]) % len(p)
			p[j][mods[k+1]%32] ^= 1 << (mods[k+1] >> 5)
		}
		changed := false
		for j := range p {
			changed = changed || p[j] != orig[j]
		}
		err := Verify(suite, root, leaves[i], uint64(vi), uint64(vn), p)
		want := !changed && vi < vn && slices.Equal(shape(int(i), int(n)), shape(int(vi), int(vn)))
		if want != (err == nil) {
			t.Fatalf("n=%d i=%d verified as %d of %d, changed=%v: %v", n, i, vi, vn, changed, err)
		}
		if vi == i && vn == n && !changed && err != nil {
			t.Fatalf("honest path rejected: %v", err)
		}
	})
}
