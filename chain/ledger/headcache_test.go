package ledger

import (
	"fmt"
	"testing"

	"github.com/polityledger/polity/chain/exec"
)

// TestHeadCacheCommit: a block's writes replace cached values, a delete
// caches the key as absent, untouched entries stay, and writes that would
// overflow the bound restart the cache from them.
func TestHeadCacheCommit(t *testing.T) {
	var c headCache
	c.put([]byte("a"), []byte("1"))
	c.put([]byte("b"), []byte("2"))
	c.put([]byte("gone"), nil)
	c.commit([]exec.Write{{Key: []byte("a"), Value: []byte("3")}, {Key: []byte("b")}, {Key: []byte("c"), Value: []byte{}}})
	for _, want := range []struct {
		key, val string
		nilVal   bool
	}{{"a", "3", false}, {"b", "", true}, {"c", "", false}, {"gone", "", true}} {
		v, ok := c.get([]byte(want.key))
		if !ok || string(v) != want.val || (v == nil) != want.nilVal {
			t.Fatalf("%s: %q (nil %v), cached %v; want %q (nil %v)", want.key, v, v == nil, ok, want.val, want.nilVal)
		}
	}
	for i := len(c.m); i < headCacheMax; i++ {
		c.put(fmt.Appendf(nil, "k%d", i), []byte("v"))
	}
	c.put([]byte("over"), []byte("v"))
	if _, ok := c.get([]byte("over")); ok {
		t.Fatal("cache grew past its bound")
	}
	c.commit([]exec.Write{{Key: []byte("a"), Value: []byte("4")}})
	if v, ok := c.get([]byte("a")); !ok || string(v) != "4" || len(c.m) != 1 {
		t.Fatalf("after an overflowing commit: a=%q cached %v, %d entries; want only a=4", v, ok, len(c.m))
	}
}
