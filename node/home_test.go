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
