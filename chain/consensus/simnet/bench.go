package simnet

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

// Throughput orders b.N workload transactions from 16 clients through a
// cluster (no faults unless the caller set some), after one warm-up
// transaction has committed everywhere, and
// reports committed tx/s and the longest pause between two commits seen by
// node 1 (a stall shows up there). Each client submits round-robin to the
// nodes, retrying while a node refuses.
func Throughput[E Engine](b *testing.B, c *Cluster[E]) {
	b.Helper()
	const clients = 16
	txs := make([][]*chain.Tx, clients)
	for i := range txs {
		cl := c.NewClient()
		for j := 0; j < b.N/clients+1; j++ {
			txs[i] = append(txs[i], cl.Tx(fmt.Sprintf("c%d-%d", i, j)))
		}
	}
	// Warm up: the cluster has just started (engines, leader, first view),
	// which is not what the figures are about.
	c.WaitCommitted(c.Submit(0, c.NewClient().Tx("warm-up")), time.Minute)
	var maxGap time.Duration
	stop := make(chan struct{})
	gapDone := make(chan struct{})
	go func() {
		defer close(gapDone)
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-c.Nodes[0].Rep.Committed():
				if g := time.Since(last); g > maxGap {
					maxGap = g
				}
				last = time.Now()
			}
		}
	}()
	sigs0 := ed25519sha256.SigStats()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, tx := range txs[i] {
				if j*clients+i >= b.N {
					return
				}
				for {
					if _, err := c.Nodes[(i+j)%len(c.Nodes)].Rep.Submit(tx); err == nil {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	// Wait for the last of every client's transactions on node 1.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := 0; i < clients; i++ {
		n := (b.N - i + clients - 1) / clients
		if n <= 0 {
			continue
		}
		if _, _, err := c.Nodes[0].Rep.WaitTx(ctx, txs[i][n-1].ID(c.Suite)); err != nil {
			b.Fatalf("not committed: %v", err)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	close(stop)
	<-gapDone
	b.ReportMetric(float64(b.N)/el.Seconds(), "tx/s")
	b.ReportMetric(maxGap.Seconds()*1000, "max-gap-ms")
	// Signatures checked by the scheme (not answered from its cache) per
	// transaction, all nodes together, certificates included.
	b.ReportMetric(float64(ed25519sha256.SigStats().Verified-sigs0.Verified)/float64(b.N), "sig-verifies/tx")
}
