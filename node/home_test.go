package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInitRetainBlocks: init writes retain_blocks into every node.json,
// LoadHome reads it back, and a window below the minimum is refused by
// both.
func TestInitRetainBlocks(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitNetwork(InitOptions{Validators: 1, Out: dir, Now: time.Now(), RetainBlocks: 10}); err == nil {
		t.Fatal("init took retain-blocks 10")
	}
	if _, err := InitNetwork(InitOptions{Validators: 1, Out: dir, Now: time.Now(), RetainBlocks: 64}); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "node1")
	h, err := LoadHome(home)
	if err != nil || h.Config.RetainBlocks != 64 {
		t.Fatalf("loaded retain_blocks %d, %v", h.Config.RetainBlocks, err)
	}
	path := filepath.Join(home, "node.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), `"retain_blocks": 64`, `"retain_blocks": 3`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHome(home); err == nil || !strings.Contains(err.Error(), "retain_blocks") {
		t.Fatalf("node.json with retain_blocks 3: %v", err)
	}
}

// TestFreePortsDistinct: the ports freePort gives one network never repeat,
// though none is bound in between (two nodes of an e2e network once got the
// same API port: 'bind: address already in use').
func TestFreePortsDistinct(t *testing.T) {
	picked := map[string]bool{}
	for i := range 2000 {
		addr, err := freePort("127.0.0.1", picked)
		if err != nil {
			t.Fatal(err)
		}
		if len(picked) != i+1 {
			t.Fatalf("pick %d: %s given twice", i, addr)
		}
	}
}
