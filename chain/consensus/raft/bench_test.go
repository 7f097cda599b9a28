package raft

import (
	"testing"
	"time"

	"github.com/polityledger/polity/chain/consensus/simnet"
)

// BenchmarkRaftThroughput orders b.N signed records.put transactions
// through a 4-validator Raft cluster on the simulated network (no faults)
// and reports committed tx/s and the longest pause between two commits on
// node 1.
func BenchmarkRaftThroughput(b *testing.B) {
	c := newCluster(b, 4, 1, nil)
	leader(c, 30*time.Second)
	simnet.Throughput(b, c)
}
