package main

import (
	"strings"
	"testing"
)

// TestPprofLoopbackOnly: the profiler exposes memory contents, so both
// commands that offer it refuse any address but a loopback one.
func TestPprofLoopbackOnly(t *testing.T) {
	for _, args := range [][]string{
		{"node", "--home", t.TempDir(), "--pprof", "0.0.0.0:6061"},
		{"devnet", "--data", t.TempDir(), "--pprof", "10.1.2.3:6060"},
	} {
		_, errOut, code := polityRun(args...)
		if code != 2 || !strings.Contains(errOut, "loopback") {
			t.Errorf("polity %s: exit %d, stderr %q; want exit 2 naming loopback", strings.Join(args, " "), code, errOut)
		}
	}
}
