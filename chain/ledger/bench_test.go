package ledger_test

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/smt"
	"github.com/polityledger/polity/domains/records"
)

// randomText returns n letters and digits from rng.
func randomText(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// BenchmarkLedgerCommit measures the ledger's part of appending a block of
// 1000 records.put transactions (250-byte data, 100 senders) on a temporary
// directory of the real filesystem: Prepare (the state tree update) and
// Commit (encode, compress, one synced Pebble batch). Signing the
// transactions, executing them and certifying the header are not timed. The
// ledger starts with benchKeys records and grows by 1000 per block.
func BenchmarkLedgerCommit(b *testing.B) {
	const txsPerBlock, senders = 1000, 100
	f := newFixture(b, senders)
	dir := b.TempDir()
	l := f.open(dir, ledger.Options{})
	preload(b, f, l, benchKeys)
	// Closing waits for the compactions the preload started, so that they
	// do not run inside the measurement.
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	l = f.open(dir, ledger.Options{})
	defer func() {
		b.StopTimer() // closing waits for compactions: not part of a commit
		l.Close()
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		txs := make([]*chain.Tx, txsPerBlock)
		for j := range txs {
			txs[j] = f.put(j%senders, fmt.Sprintf("b%d-t%d", i, j), randomText(rng, 250))
		}
		head, headHash := l.Head()
		h := chain.Header{ChainID: testChainID, Height: head.Height + 1, Time: head.Time + 1000, Parent: headHash, Proposer: validatorID, ValidatorsHash: head.ValidatorsHash}
		res, err := f.exe.Execute(module.Block{ChainID: h.ChainID, Height: h.Height, Time: h.Time}, txs, l, exec.Verify)
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]crypto.Hash, len(res.Txs))
		for j, tx := range res.Txs {
			ids[j] = tx.ID(suite)
		}
		h.TxRoot, h.TxCount = chain.TxRoot(suite, ids), uint64(len(ids))
		h.ReceiptsRoot = chain.ReceiptsRoot(suite, res.Receipts)
		b.StartTimer()

		su, err := l.Prepare(head.StateRoot, res.Writes)
		if err != nil {
			b.Fatal(err)
		}
		su.Receipts = res.Receipts
		h.StateRoot = su.Root

		b.StopTimer()
		blk := &chain.Block{Header: h, Txs: res.Txs, Commit: f.certify(&h)}
		b.StartTimer()

		if err := l.Commit(blk, su); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*txsPerBlock)/b.Elapsed().Seconds(), "txs/s")
}

// preload commits one block of n synthetic record writes (120-byte values)
// on l and returns their keys.
func preload(b *testing.B, f *fixture, l *ledger.Ledger, n int) [][]byte {
	b.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([][]byte, n)
	ws := make([]exec.Write, n)
	for i := range ws {
		keys[i] = records.StateKey(fmt.Sprintf("rec-%07d", i))
		ws[i] = exec.Write{Key: keys[i], Value: []byte(randomText(rng, 120))}
	}
	head, headHash := l.Head()
	su, err := l.Prepare(head.StateRoot, ws)
	if err != nil {
		b.Fatal(err)
	}
	h := chain.Header{ChainID: testChainID, Height: head.Height + 1, Time: head.Time + 1, Parent: headHash, Proposer: validatorID, StateRoot: su.Root, ValidatorsHash: head.ValidatorsHash}
	if err := l.Commit(&chain.Block{Header: h, Commit: f.certify(&h)}, su); err != nil {
		b.Fatal(err)
	}
	return keys
}

const benchKeys = 100_000

// proofLedger returns a ledger on the real filesystem whose head state holds
// benchKeys record keys, and the keys.
func proofLedger(b *testing.B) (*ledger.Ledger, [][]byte) {
	b.Helper()
	f := newFixture(b, 0)
	l := f.open(b.TempDir(), ledger.Options{})
	b.Cleanup(func() { l.Close() })
	return l, preload(b, f, l, benchKeys)
}

// BenchmarkStateProof proves random present keys at the head of a ledger
// holding 100k keys (header read, value lookup and proof from Pebble).
func BenchmarkStateProof(b *testing.B) {
	l, keys := proofLedger(b)
	h := l.Height()
	rng := rand.New(rand.NewPCG(5, 6))
	depth := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sp, err := l.ProveState(keys[rng.IntN(len(keys))], h)
		if err != nil || sp.ValueHash == nil {
			b.Fatalf("prove: %v", err)
		}
		depth += len(sp.Proof.Siblings)
	}
	b.ReportMetric(float64(depth)/float64(b.N), "siblings")
}

// BenchmarkStateProofVerify checks state proofs from that ledger against the
// header's state root, as a light client does (smt.Verify).
func BenchmarkStateProofVerify(b *testing.B) {
	l, keys := proofLedger(b)
	h := l.Height()
	rng := rand.New(rand.NewPCG(7, 8))
	type item struct {
		root, key crypto.Hash
		vh        *crypto.Hash
		p         *smt.Proof
	}
	items := make([]item, 1024)
	size := 0
	for i := range items {
		k := keys[rng.IntN(len(keys))]
		if i%4 == 3 {
			k = records.StateKey(fmt.Sprintf("absent-%d", i)) // every fourth: non-inclusion
		}
		sp, err := l.ProveState(k, h)
		if err != nil {
			b.Fatal(err)
		}
		enc, err := sp.Proof.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		size += len(enc)
		items[i] = item{sp.Header.StateRoot, chain.StateKeyHash(suite, k), sp.ValueHash, sp.Proof}
	}
	b.ReportMetric(float64(size)/float64(len(items)), "proof-bytes")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		it := &items[i%len(items)]
		if err := smt.Verify(suite, it.root, it.key, it.vh, it.p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiskPerTx measures the store's size against the canonical size
// of what it must keep: every transaction, receipt, header and certificate.
// The workload rewrites a fixed set of small records (as balance updates
// do), so the live state stays small and what grows is history; each
// sub-benchmark commits 120 blocks of 250 transactions, keeping the state
// trees of the last 16 heights or all of them, then compacts the store.
func BenchmarkDiskPerTx(b *testing.B) {
	for _, keep := range []uint64{16, 1 << 40} {
		name := fmt.Sprintf("history=%d", keep)
		if keep > 1<<30 {
			name = "history=all"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				diskPerTx(b, keep)
			}
		})
	}
}

func diskPerTx(b *testing.B, keep uint64) {
	const blocks, txsPerBlock, senders = 120, 250, 50
	f := newFixture(b, senders)
	dir := b.TempDir()
	l := f.open(dir, ledger.Options{StateHistory: keep})
	canonical := 0
	for i := range blocks {
		txs := make([]*chain.Tx, txsPerBlock)
		for j := range txs {
			txs[j] = f.put(j%senders, fmt.Sprintf("acct-%d", j%senders), fmt.Sprintf("balance %d", i*txsPerBlock+j))
		}
		bl := f.commit(l, txs)
		canonical += len(bl.b.Header.Encode()) + len(bl.b.Commit.Encode())
		for j, tx := range bl.b.Txs {
			canonical += len(tx.Encode()) + len(bl.res.Receipts[j].Encode())
		}
	}
	ledger.CompactAll(b, l)
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	disk, tables := dirSize(b, dir)
	n := float64(blocks * txsPerBlock)
	b.ReportMetric(float64(canonical)/n, "canonical-B/tx")
	b.ReportMetric(float64(disk)/n, "disk-B/tx")
	b.ReportMetric(float64(tables)/n, "sst-B/tx")
	b.ReportMetric(float64(tables)/float64(canonical), "sst/canonical")
}

// dirSize sums the sizes of the files in dir, and of its tables alone:
// the rest is Pebble's write-ahead logs, a few memtables' worth kept for
// reuse whatever the history's length.
func dirSize(b *testing.B, dir string) (all, tables int64) {
	b.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			b.Fatal(err)
		}
		all += info.Size()
		if strings.HasSuffix(e.Name(), ".sst") {
			tables += info.Size()
		}
	}
	return all, tables
}

// BenchmarkBlockCompression compresses what Commit compresses for a block
// of 500 signed transfers (each from its own key, to a random account):
// the transaction bodies and the receipts, at zstd's fastest level (the
// ledger's) and at its default, reporting the compressed/raw ratio.
func BenchmarkBlockCompression(b *testing.B) {
	s := suites.Default
	var body, receipts []byte
	for i := range 500 {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		var to chain.Address
		crand.Read(to[:])
		tx := &chain.Tx{ChainID: "health", Nonce: uint64(i), Module: "transfer", Method: "send", Args: fmt.Appendf(nil, `{"to":%q,"amount":1}`, to)}
		if err := tx.Sign(s, k); err != nil {
			b.Fatal(err)
		}
		rc := &chain.Receipt{TxID: tx.ID(s), WorkUsed: 2400, Events: []chain.Event{{Type: "sent", Attrs: []chain.Attr{
			{Key: "from", Value: tx.SenderAddress(s).String()}, {Key: "to", Value: to.String()}, {Key: "amount", Value: "1"}}}}}
		body, receipts = append(body, tx.Encode()...), append(receipts, rc.Encode()...)
	}
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1))
		if err != nil {
			b.Fatal(err)
		}
		for _, part := range []struct {
			name string
			raw  []byte
		}{{"body", body}, {"receipts", receipts}} {
			b.Run(level.String()+"/"+part.name, func(b *testing.B) {
				var out []byte
				for b.Loop() {
					out = enc.EncodeAll(part.raw, out[:0])
				}
				b.ReportMetric(float64(len(out))/float64(len(part.raw)), "ratio")
			})
		}
	}
}
