package chain

import (
	"testing"

	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

// Codec benchmarks: a ~300-byte signed transaction, and a 1000-transaction
// block with a 4-signature certificate.

func BenchmarkTxEncode(b *testing.B) {
	s := ed25519sha256.New()
	tx := testTx(b, s, testKey(b, s, 0), 7)
	b.SetBytes(int64(len(tx.Encode())))
	b.ReportAllocs()
	for b.Loop() {
		tx.Encode()
	}
}

func BenchmarkTxDecode(b *testing.B) {
	s := ed25519sha256.New()
	enc := testTx(b, s, testKey(b, s, 0), 7).Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTx(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTxID(b *testing.B) {
	s := ed25519sha256.New()
	tx := testTx(b, s, testKey(b, s, 0), 7)
	b.ReportAllocs()
	for b.Loop() {
		tx.ID(s)
	}
}

func BenchmarkBlockEncode(b *testing.B) {
	s := ed25519sha256.New()
	blk, _, _ := testBlock(b, s, 1000)
	b.SetBytes(int64(len(blk.Encode())))
	b.ReportAllocs()
	for b.Loop() {
		blk.Encode()
	}
}

func BenchmarkBlockDecode(b *testing.B) {
	s := ed25519sha256.New()
	blk, _, _ := testBlock(b, s, 1000)
	enc := blk.Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBlock(enc); err != nil {
			b.Fatal(err)
		}
	}
}
