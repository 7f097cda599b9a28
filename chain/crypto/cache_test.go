package crypto_test

import (
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

// TestCacheBounded: the cache never holds more than two generations, and
// recent entries survive a generation change.
func TestCacheBounded(t *testing.T) {
	c := crypto.Cache[int, int]{Size: 100}
	for i := range 1000 {
		c.Put(i, i*i)
		if v, ok := c.Get(i); !ok || v != i*i {
			t.Fatalf("just stored %d: got %d, %v", i, v, ok)
		}
	}
	held := 0
	for i := range 1000 {
		if _, ok := c.Get(i); ok {
			held++
		}
	}
	if held > 200 || held < 100 {
		t.Fatalf("%d entries held, want between one and two generations (100..200)", held)
	}
	if _, ok := c.Get(999); !ok {
		t.Fatal("the newest entry was dropped")
	}
}

// TestSigCache: only recorded signatures hit, and the counters say so.
func TestSigCache(t *testing.T) {
	c := crypto.NewSigCache(4)
	k := crypto.SigKey([]byte("pub"), []byte("msg"), []byte("sig"))
	if c.Seen(k) {
		t.Fatal("hit before Add")
	}
	c.Add(k)
	if !c.Seen(k) {
		t.Fatal("miss after Add")
	}
	// Moving a byte between the parts changes the key (length-prefixed).
	if crypto.SigKey([]byte("pu"), []byte("bmsg"), []byte("sig")) == k {
		t.Fatal("keys of different parts collide")
	}
	if st := c.Stats(); st.Verified != 1 || st.Cached != 1 {
		t.Fatalf("stats %+v, want 1 verified, 1 cached", st)
	}
}
