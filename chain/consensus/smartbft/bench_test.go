package smartbft

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
)

// BenchmarkBFTThroughput orders b.N signed records.put transactions through a
// 4-validator cluster on the simulated network (no faults), with leader
// rotation off and on, and reports committed tx/s and the longest pause
// between two commits seen by node 1 (a stall shows up there).
func BenchmarkBFTThroughput(b *testing.B) {
	for _, rotation := range []bool{false, true} {
		b.Run(fmt.Sprintf("rotation=%v", rotation), func(b *testing.B) {
			c := newBenchCluster(b, rotation)
			const clients = 16
			txs := make([][]*chain.Tx, clients)
			for i := range txs {
				cl := newClient(nil, c.suite)
				for j := 0; j < b.N/clients+1; j++ {
					txs[i] = append(txs[i], cl.txB(fmt.Sprintf("c%d-%d", i, j)))
				}
			}
			var maxGap time.Duration
			stop := make(chan struct{})
			go func() {
				last := time.Now()
				for {
					select {
					case <-stop:
						return
					case <-c.nodes[0].rep.Committed():
						if g := time.Since(last); g > maxGap {
							maxGap = g
						}
						last = time.Now()
					}
				}
			}()
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
							if _, err := c.nodes[(i+j)%4].rep.Submit(tx); err == nil {
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
				if _, _, err := c.nodes[0].rep.WaitTx(ctx, txs[i][n-1].ID(c.suite)); err != nil {
					b.Fatalf("not committed: %v", err)
				}
			}
			el := time.Since(start)
			b.StopTimer()
			close(stop)
			b.ReportMetric(float64(b.N)/el.Seconds(), "tx/s")
			b.ReportMetric(maxGap.Seconds()*1000, "max-gap-ms")
		})
	}
}
