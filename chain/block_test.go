package chain

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/merkle"
)

func decodeHeaderErr(b []byte) error { _, err := DecodeHeader(b); return err }
func decodeBlockErr(b []byte) error  { _, err := DecodeBlock(b); return err }
func decodeCommitErr(b []byte) error { _, err := DecodeCommit(b); return err }

func TestHeaderRoundTrip(t *testing.T) {
	s := edSuite
	vs := testValidators(testKeys(t, s, 4))
	full := testHeader(s, vs, nil)
	full.TxCount = MaxBlockTxs
	long := *full
	long.ChainID = strings.Repeat("c", MaxChainIDLen)
	long.Proposer = strings.Repeat("p", MaxValidatorID)
	long.Height, long.Time = ^uint64(0), ^uint64(0)
	for _, h := range []*Header{{}, full, &long} {
		enc := h.Encode()
		if enc[0] != HeaderVersion {
			t.Fatalf("version byte %d", enc[0])
		}
		got, err := DecodeHeader(enc)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *h {
			t.Fatalf("decoded %+v, want %+v", got, h)
		}
		if !bytes.Equal(got.Encode(), enc) {
			t.Fatal("re-encoding differs")
		}
		if got.Hash(s) != s.Hash(enc) {
			t.Fatal("Hash is not the hash of the encoding")
		}
		mustFailPrefixes(t, enc, decodeHeaderErr)
	}
}

func TestDecodeHeaderStrict(t *testing.T) {
	s := edSuite
	base := testHeader(s, testValidators(testKeys(t, s, 1)), nil)
	with := func(f func(h *Header)) []byte {
		h := *base
		f(&h)
		return h.Encode()
	}
	badVersion := base.Encode()
	badVersion[0] = 2
	tests := []struct {
		name string
		enc  []byte
		want error
	}{
		{"version 2", badVersion, codec.ErrBadValue},
		{"tx count over limit", with(func(h *Header) { h.TxCount = MaxBlockTxs + 1 }), codec.ErrTooLong},
		{"chain id too long", with(func(h *Header) { h.ChainID = strings.Repeat("c", MaxChainIDLen+1) }), codec.ErrTooLong},
		{"proposer too long", with(func(h *Header) { h.Proposer = strings.Repeat("p", MaxValidatorID+1) }), codec.ErrTooLong},
		{"proposer unprintable", with(func(h *Header) { h.Proposer = "val\x00" }), codec.ErrBadString},
		{"oversize input", append(base.Encode(), make([]byte, 1024)...), nil},
		{"empty", nil, codec.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := DecodeHeader(tc.enc)
			if err == nil || h != nil {
				t.Fatalf("accepted %+v", h)
			}
			if !errors.Is(err, ErrBlockMalformed) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBlockRoundTrip(t *testing.T) {
	for _, s := range bothSuites {
		t.Run(s.Name(), func(t *testing.T) {
			for _, n := range []int{0, 1, 5} {
				b, _, _ := testBlock(t, s, n)
				if n == 0 {
					b.Commit = Commit{} // as on the genesis block
				}
				enc := b.Encode()
				got, err := DecodeBlock(enc)
				if err != nil {
					t.Fatal(err)
				}
				for i, tx := range b.Txs {
					b.Txs[i] = tx.Clone() // without the memo TxRoot left
				}
				if !reflect.DeepEqual(got, b) {
					t.Fatalf("%d txs: decoded %+v, want %+v", n, got, b)
				}
				if !bytes.Equal(got.Encode(), enc) {
					t.Fatal("re-encoding differs")
				}
				for i, tx := range got.Txs {
					if err := tx.Verify(s); err != nil {
						t.Fatalf("tx %d: %v", i, err)
					}
				}
				if got.Header.TxRoot != TxRoot(s, got.TxIDs(s)) {
					t.Fatal("tx root differs")
				}
				if n > 0 {
					mustFailPrefixes(t, enc, decodeBlockErr)
				}
			}
		})
	}
}

func TestDecodeBlockStrict(t *testing.T) {
	s := edSuite
	b, _, _ := testBlock(t, s, 3)

	// Build encodings by hand where Block.Encode cannot produce them.
	raw := func(hdr []byte, count uint64, txs [][]byte, commit []byte) []byte {
		w := codec.NewWriter(0)
		w.VarBytes(hdr)
		w.Uint(count)
		for _, tx := range txs {
			w.VarBytes(tx)
		}
		w.Fixed(commit)
		return w.Bytes()
	}
	var txEncs [][]byte
	for _, tx := range b.Txs {
		txEncs = append(txEncs, tx.Encode())
	}
	hdr := b.Header.Encode()
	cmt := b.Commit.Encode()
	if !bytes.Equal(raw(hdr, 3, txEncs, cmt), b.Encode()) {
		t.Fatal("hand-built encoding differs from Encode")
	}
	withBlock := func(f func(b *Block)) []byte {
		c := *b
		c.Txs = append([]*Tx(nil), b.Txs...)
		c.Commit.Sigs = append([]CommitSig(nil), b.Commit.Sigs...)
		f(&c)
		return c.Encode()
	}
	hdrCount := func(n uint64) []byte { h := b.Header; h.TxCount = n; return h.Encode() }
	badTx := bytes.Clone(txEncs[1])
	badTx[0] = 9 // version
	bigHdr := append(bytes.Clone(hdr), make([]byte, maxHeaderEncoded)...)
	bigTx := (&Tx{Args: make([]byte, MaxTxSize)}).Encode()

	tests := []struct {
		name string
		enc  []byte
		want error
	}{
		{"fewer txs than header", raw(hdr, 2, txEncs[:2], cmt), codec.ErrBadValue},
		{"more txs than header", raw(hdrCount(2), 3, txEncs, cmt), codec.ErrBadValue},
		{"header says zero", raw(hdrCount(0), 3, txEncs, cmt), codec.ErrBadValue},
		{"count past the txs", raw(hdrCount(4), 4, txEncs, cmt), nil},
		{"tx count over limit", raw(hdrCount(MaxBlockTxs), MaxBlockTxs+1, nil, nil), codec.ErrTooLong},
		{"bad tx", raw(hdr, 3, [][]byte{txEncs[0], badTx, txEncs[2]}, cmt), ErrTxMalformed},
		{"tx with trailing byte", raw(hdr, 3, [][]byte{txEncs[0], append(bytes.Clone(txEncs[1]), 0), txEncs[2]}, cmt), ErrTxMalformed},
		{"oversize tx", raw(hdrCount(1), 1, [][]byte{bigTx}, cmt), codec.ErrTooLong},
		{"header with trailing byte", raw(append(bytes.Clone(hdr), 0), 3, txEncs, cmt), codec.ErrTrailing},
		{"header oversize", raw(bigHdr, 3, txEncs, cmt), codec.ErrTooLong},
		{"empty header", raw(nil, 0, nil, []byte{0}), codec.ErrShort},
		{"no commit", raw(hdr, 3, txEncs, nil), codec.ErrShort},
		{"commit index repeated", withBlock(func(b *Block) { b.Commit.Sigs[1].Index = b.Commit.Sigs[0].Index }), codec.ErrBadValue},
		{"commit index decreasing", withBlock(func(b *Block) { b.Commit.Sigs[0], b.Commit.Sigs[1] = b.Commit.Sigs[1], b.Commit.Sigs[0] }), codec.ErrBadValue},
		{"commit index over limit", withBlock(func(b *Block) { b.Commit.Sigs[2].Index = MaxValidators }), codec.ErrTooLong},
		{"commit sig too long", withBlock(func(b *Block) { b.Commit.Sigs[2].Sig = make([]byte, MaxSignatureLen+1) }), codec.ErrTooLong},
		{"empty", nil, codec.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeBlock(tc.enc)
			if err == nil || got != nil {
				t.Fatalf("accepted %+v", got)
			}
			if !errors.Is(err, ErrBlockMalformed) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCommitRoundTrip(t *testing.T) {
	s := edSuite
	keys := testKeys(t, s, 4)
	h := testHeader(s, testValidators(keys), nil)
	max := &Commit{}
	for i := 0; i < MaxValidators; i++ {
		max.Sigs = append(max.Sigs, CommitSig{Index: uint32(i), Sig: bytes.Repeat([]byte{byte(i)}, MaxSignatureLen)})
	}
	for _, c := range []*Commit{{}, signCommit(t, s, h, keys, 0, 1, 2, 3), signCommit(t, s, h, keys, 3), max} {
		enc := c.Encode()
		got, err := DecodeCommit(enc)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Sigs) == 0 {
			c.Sigs = nil
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("decoded %+v, want %+v", got, c)
		}
		if !bytes.Equal(got.Encode(), enc) {
			t.Fatal("re-encoding differs")
		}
		mustFailPrefixes(t, enc, decodeCommitErr)
	}
}

func TestDecodeCommitStrict(t *testing.T) {
	sig := []byte{1, 2, 3}
	enc := func(idx ...uint32) []byte {
		c := &Commit{}
		for _, i := range idx {
			c.Sigs = append(c.Sigs, CommitSig{Index: i, Sig: sig})
		}
		return c.Encode()
	}
	tooMany := codec.NewWriter(0)
	tooMany.Uint(MaxValidators + 1)
	tests := []struct {
		name string
		enc  []byte
		want error
	}{
		{"repeated first", enc(0, 0), codec.ErrBadValue},
		{"repeated later", enc(0, 2, 2, 3), codec.ErrBadValue},
		{"decreasing", enc(1, 0), codec.ErrBadValue},
		{"decreasing later", enc(0, 3, 2), codec.ErrBadValue},
		{"index over limit", enc(0, MaxValidators), codec.ErrTooLong},
		{"count over limit", tooMany.Bytes(), codec.ErrTooLong},
		{"sig too long", (&Commit{Sigs: []CommitSig{{Index: 0, Sig: make([]byte, MaxSignatureLen+1)}}}).Encode(), codec.ErrTooLong},
		{"non-minimal count", []byte{0x80, 0x00}, codec.ErrVarint},
		{"empty", nil, codec.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeCommit(tc.enc)
			if err == nil || c != nil {
				t.Fatalf("accepted %+v", c)
			}
			if !errors.Is(err, ErrBlockMalformed) || !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := DecodeCommit(enc(0, 1, 255)); err != nil {
		t.Fatalf("increasing indices up to 255 rejected: %v", err)
	}
}

func TestQuorum(t *testing.T) {
	want := map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 4, 6: 4, 7: 5, 8: 6, 9: 6, 10: 7}
	for n := 1; n <= 10; n++ {
		vs := &ValidatorSet{Validators: make([]Validator, n)}
		q := vs.Quorum()
		if q != want[n] {
			t.Errorf("Quorum(%d) = %d, want %d", n, q, want[n])
		}
		// Safety: two quorums share more than f validators; liveness:
		// the n-f honest validators form a quorum.
		f := (n - 1) / 3
		if 2*q-n < f+1 || q > n-f {
			t.Errorf("Quorum(%d) = %d breaks the BFT bounds with f = %d", n, q, f)
		}
	}
}

func TestVerifyCommit(t *testing.T) {
	for _, s := range bothSuites {
		t.Run(s.Name(), func(t *testing.T) {
			keys := testKeys(t, s, 4)
			vs := testValidators(keys)
			h := testHeader(s, vs, nil)

			otherKeys := []crypto.PrivateKey{testKey(t, s, 10), testKey(t, s, 11), testKey(t, s, 12), testKey(t, s, 13)}
			otherVS := testValidators(otherKeys)
			hOtherVS := *h
			hOtherVS.ValidatorsHash = otherVS.Hash(s)

			otherHeader := *h
			otherHeader.StateRoot = s.Hash([]byte("other state"))
			nextHeight := *h
			nextHeight.Height++

			sigsOf := func(c *Commit) []CommitSig { return c.Sigs }
			good := sigsOf(signCommit(t, s, h, keys, 0, 1, 2, 3))
			badSig := append([]CommitSig(nil), good[:3]...)
			badSig[1].Sig = bytes.Clone(badSig[1].Sig)
			badSig[1].Sig[5] ^= 1
			// A signature over the right header in another chain's message.
			wrongChainMsg := CommitMessage("identity", h.Height, h.Hash(s))
			wrongChainSig, err := keys[2].Sign(wrongChainMsg)
			if err != nil {
				t.Fatal(err)
			}

			tests := []struct {
				name string
				vs   *ValidatorSet
				h    *Header
				sigs []CommitSig
				want error // nil: accepted
			}{
				{"all four", vs, h, good, nil},
				{"quorum 0,1,2", vs, h, []CommitSig{good[0], good[1], good[2]}, nil},
				{"quorum 1,2,3", vs, h, []CommitSig{good[1], good[2], good[3]}, nil},
				{"quorum 0,2,3", vs, h, []CommitSig{good[0], good[2], good[3]}, nil},
				{"two sigs", vs, h, []CommitSig{good[0], good[3]}, ErrNoQuorum},
				{"one sig", vs, h, good[:1], ErrNoQuorum},
				{"none", vs, h, nil, ErrNoQuorum},
				{"duplicate index", vs, h, []CommitSig{good[0], good[1], good[1]}, ErrNoQuorum},
				{"duplicate index padding", vs, h, []CommitSig{good[0], good[0], good[0], good[1]}, ErrNoQuorum},
				{"decreasing index", vs, h, []CommitSig{good[2], good[1], good[0]}, ErrNoQuorum},
				{"index out of range", vs, h, []CommitSig{good[0], good[1], {Index: 4, Sig: good[2].Sig}}, ErrNoQuorum},
				{"sig under wrong index", vs, h, []CommitSig{good[0], good[1], {Index: 3, Sig: good[2].Sig}}, ErrNoQuorum},
				{"one bad sig among a quorum", vs, h, badSig, ErrNoQuorum},
				{"bad sig beside a quorum", vs, h, append(append([]CommitSig(nil), good[:3]...), CommitSig{Index: 3, Sig: badSig[1].Sig}), ErrNoQuorum},
				{"sig for another chain", vs, h, []CommitSig{good[0], good[1], {Index: 2, Sig: wrongChainSig}}, ErrNoQuorum},
				{"wrong header", vs, &otherHeader, good, ErrNoQuorum},
				{"wrong height", vs, &nextHeight, good, ErrNoQuorum},
				{"wrong validator set", otherVS, h, good, ErrCertMismatch},
				{"header names another set", vs, &hOtherVS, good, ErrCertMismatch},
				{"set the header names, sigs of another", otherVS, &hOtherVS, good, ErrNoQuorum},
				{"empty set", &ValidatorSet{}, h, good, ErrCertMismatch},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					err := VerifyCommit(s, tc.vs, tc.h, &Commit{Sigs: tc.sigs})
					if tc.want == nil {
						if err != nil {
							t.Fatalf("rejected: %v", err)
						}
						return
					}
					if !errors.Is(err, tc.want) {
						t.Fatalf("VerifyCommit = %v, want %v", err, tc.want)
					}
				})
			}
		})
	}
}

func TestVerifyCommitQuorumSizes(t *testing.T) {
	s := edSuite
	keys := testKeys(t, s, 10)
	for n := 1; n <= 10; n++ {
		vs := testValidators(keys[:n])
		h := testHeader(s, vs, nil)
		q := vs.Quorum()
		var idx []int
		for i := n - q; i < n; i++ {
			idx = append(idx, i)
		}
		if err := VerifyCommit(s, vs, h, signCommit(t, s, h, keys, idx...)); err != nil {
			t.Fatalf("n=%d: quorum of %d rejected: %v", n, q, err)
		}
		if err := VerifyCommit(s, vs, h, signCommit(t, s, h, keys, idx[1:]...)); !errors.Is(err, ErrNoQuorum) {
			t.Fatalf("n=%d: %d signatures accepted: %v", n, q-1, err)
		}
	}
}

func TestTxAndReceiptRoots(t *testing.T) {
	s := edSuite
	b, _, _ := testBlock(t, s, 5)
	ids := b.TxIDs(s)
	leaves := make([]crypto.Hash, len(ids))
	for i, id := range ids {
		if id != b.Txs[i].ID(s) {
			t.Fatalf("TxIDs[%d] differs", i)
		}
		leaves[i] = merkle.LeafHash(s, id[:])
	}
	if TxRoot(s, ids) != merkle.Root(s, leaves) {
		t.Fatal("TxRoot differs from the Merkle root of leaf-hashed IDs")
	}
	if TxRoot(s, nil) != s.Hash() {
		t.Fatal("empty TxRoot is not the hash of nothing")
	}
	rcs := []*Receipt{testReceipt(s), {TxID: ids[0]}}
	rl := ReceiptLeaves(s, rcs)
	for i, rc := range rcs {
		if rl[i] != merkle.LeafHash(s, rc.Encode()) {
			t.Fatalf("receipt leaf %d differs", i)
		}
	}
	if ReceiptsRoot(s, rcs) != merkle.Root(s, rl) {
		t.Fatal("ReceiptsRoot differs")
	}
}
