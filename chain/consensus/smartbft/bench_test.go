package smartbft

import (
	"fmt"
	"testing"

	"github.com/polityledger/polity/chain/consensus/simnet"
)

// BenchmarkBFTThroughput orders b.N signed records.put transactions through a
// 4-validator cluster on the simulated network (no faults), with leader
// rotation off and on, and reports committed tx/s and the longest pause
// between two commits seen by node 1 (a stall shows up there).
func BenchmarkBFTThroughput(b *testing.B) {
	for _, rotation := range []bool{false, true} {
		b.Run(fmt.Sprintf("rotation=%v", rotation), func(b *testing.B) {
			simnet.Throughput(b, newClusterWith(b, 4, 1, func(c *Config) { c.LeaderRotation = rotation }))
		})
	}
}
