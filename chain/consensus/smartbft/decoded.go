package smartbft

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/hyperledger-labs/SmartBFT/pkg/types"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// decoded maps a request's bytes to its decoded transaction. One request is
// decoded in many places: admission or forwarding, three RequestID calls
// inside SmartBFT's pool, the leader's proposal, every node's verification,
// delivery and pool pruning. Each decode built a new Tx, so each derived the
// ID and sender address again (encoding and hashing). With the cache a
// request is decoded once per node and its Tx, with its memo, is shared.
//
// Decoding is a pure function of the bytes and a decoded Tx is never changed,
// so a hit answers exactly what decoding again would. Entries are keyed by a
// seeded hash and hold a private copy of their bytes, compared on every hit:
// a hash collision is a miss, never a wrong answer. Bounded: two generations
// of decodedGen entries, each at most decodedMaxBytes.
type decoded struct {
	suite crypto.Suite
	seed  maphash.Seed
	c     crypto.Cache[uint64, decodedEntry]

	last struct { // the last proposal payload decoded
		sync.Mutex
		raw []byte // private copy
		txs []*chain.Tx
	}
}

type decodedEntry struct {
	raw  []byte // private copy; tx aliases it
	tx   *chain.Tx
	info types.RequestInfo // SmartBFT's name for it (requestInfo)
}

const (
	decodedGen      = 16_384
	decodedMaxBytes = 4 << 10
)

func newDecoded(s crypto.Suite) *decoded {
	return &decoded{suite: s, seed: maphash.MakeSeed(), c: crypto.Cache[uint64, decodedEntry]{Size: decodedGen}}
}

// tx decodes raw (chain.DecodeTx), from the cache when it holds raw. The
// result must not be changed.
func (d *decoded) tx(raw []byte) (*chain.Tx, error) {
	e, err := d.entry(raw)
	return e.tx, err
}

// info is requestInfo of the transaction raw decodes to.
func (d *decoded) info(raw []byte) (types.RequestInfo, error) {
	e, err := d.entry(raw)
	return e.info, err
}

func (d *decoded) entry(raw []byte) (decodedEntry, error) {
	cached := len(raw) <= decodedMaxBytes
	var h uint64
	if cached {
		h = maphash.Bytes(d.seed, raw)
		if e, ok := d.c.Get(h); ok && bytes.Equal(e.raw, raw) {
			return e, nil
		}
		raw = bytes.Clone(raw)
	}
	tx, err := chain.DecodeTx(raw)
	if err != nil {
		return decodedEntry{}, err
	}
	e := decodedEntry{raw: raw, tx: tx, info: requestInfo(d.suite, tx)}
	if cached {
		d.c.Put(h, e)
	}
	return e, nil
}

// lastPayload returns the transactions of payload if it is the last one
// decoded (a fresh slice of the same, unchangeable, transactions).
func (d *decoded) lastPayload(payload []byte) ([]*chain.Tx, bool) {
	d.last.Lock()
	defer d.last.Unlock()
	if d.last.raw == nil || !bytes.Equal(d.last.raw, payload) {
		return nil, false
	}
	return slices.Clone(d.last.txs), true
}

func (d *decoded) setLastPayload(payload []byte, txs []*chain.Tx) {
	own := bytes.Clone(payload)
	d.last.Lock()
	defer d.last.Unlock()
	d.last.raw, d.last.txs = own, slices.Clone(txs)
}

// requestInfo names a transaction for SmartBFT's pool: its ID, and its
// sender's address as the client.
func requestInfo(s crypto.Suite, tx *chain.Tx) types.RequestInfo {
	return types.RequestInfo{ClientID: tx.SenderAddress(s).String(), ID: tx.ID(s).String()}
}
