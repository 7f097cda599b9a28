package chain

import (
	"fmt"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
)

// Limits on receipts.
const (
	MaxEvents      = 64
	MaxAttrs       = 16
	MaxAttrValue   = 4096
	MaxErrorLen    = 512
	ReceiptVersion = 1
)

// Status is a transaction's outcome.
type Status uint8

const (
	StatusOK     Status = 0 // executed; state changes committed
	StatusFailed Status = 1 // rejected by its module; only the nonce advanced
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusFailed:
		return "failed"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Event is a typed record a module emits during execution.
type Event struct {
	Type  string
	Attrs []Attr
}

// Attr is one event attribute.
type Attr struct {
	Key   string
	Value string
}

// Receipt is the result of executing one transaction.
type Receipt struct {
	TxID     crypto.Hash
	Status   Status
	Error    string // module's reason when Status is failed
	WorkUsed uint64
	Events   []Event
}

// Encode returns the canonical encoding (the receipts-root leaf).
func (rc *Receipt) Encode() []byte {
	w := codec.NewWriter(64 + len(rc.Error) + 64*len(rc.Events))
	w.Byte(ReceiptVersion)
	w.Fixed(rc.TxID[:])
	w.Byte(byte(rc.Status))
	w.String(rc.Error)
	w.Uint(rc.WorkUsed)
	w.Uint(uint64(len(rc.Events)))
	for _, e := range rc.Events {
		w.String(e.Type)
		w.Uint(uint64(len(e.Attrs)))
		for _, a := range e.Attrs {
			w.String(a.Key)
			w.String(a.Value)
		}
	}
	return w.Bytes()
}

func (rc *Receipt) decode(r *codec.Reader) {
	if v := r.Byte("receipt.version"); r.Err() == nil && v != ReceiptVersion {
		r.Failf("receipt.version", "unsupported version %d", v)
	}
	r.Hash32("receipt.tx_id", (*[32]byte)(&rc.TxID))
	rc.Status = Status(r.Byte("receipt.status"))
	if r.Err() == nil && rc.Status > StatusFailed {
		r.Failf("receipt.status", "unknown status %d", rc.Status)
	}
	rc.Error = r.String("receipt.error", MaxErrorLen)
	rc.WorkUsed = r.Uint("receipt.work_used")
	n := r.UintMax("receipt.events", MaxEvents)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		e := Event{Type: r.String("event.type", MaxNameLen)}
		m := r.UintMax("event.attrs", MaxAttrs)
		for j := uint64(0); j < m && r.Err() == nil; j++ {
			e.Attrs = append(e.Attrs, Attr{Key: r.String("attr.key", MaxNameLen), Value: r.String("attr.value", MaxAttrValue)})
		}
		rc.Events = append(rc.Events, e)
	}
}

// DecodeReceipt strictly decodes one receipt.
func DecodeReceipt(b []byte) (*Receipt, error) {
	rc := new(Receipt)
	r := codec.NewReader(b)
	rc.decode(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("malformed receipt: %w", err)
	}
	return rc, nil
}
