// Package records is a native contract for department records: an agency
// writes a record under an ID it then owns; only the owner may overwrite or
// delete it. Every department subchain runs it; domain-specific modules
// (student records, medical claims, evidence) build on the same pattern.
package records

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/module"
)

// Name is the module's name in transactions.
const Name = "records"

// Limits on arguments.
const (
	MaxIDLen   = 128
	MaxDataLen = 16 << 10
)

// Errors returned by the module (their text goes into failed receipts).
var (
	ErrBadArgs  = errors.New("records: bad arguments")
	ErrNotOwner = errors.New("records: record is owned by another sender")
	ErrNotFound = errors.New("records: no such record")
)

// PutArgs are the arguments of records.put.
type PutArgs struct {
	ID   string `json:"id"`
	Data string `json:"data"`
}

// DeleteArgs are the arguments of records.delete.
type DeleteArgs struct {
	ID string `json:"id"`
}

// Record is the stored value.
type Record struct {
	Owner  string `json:"owner"` // address of the writer
	Data   string `json:"data"`
	Height uint64 `json:"height"` // block of the last write
	Time   uint64 `json:"time"`   // block time of the last write, Unix ms
}

// Module implements module.Module.
type Module struct{}

var _ module.Module = Module{}

// Name implements module.Module.
func (Module) Name() string { return Name }

// Methods implements module.Module.
func (Module) Methods() []module.Method {
	return []module.Method{{Name: "put", Handler: put}, {Name: "delete", Handler: del}}
}

// Key is the module-local state key of a record.
func Key(id string) []byte { return []byte("r/" + id) }

func decodeArgs(args []byte, v any) error {
	if err := module.StrictJSON(args, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgs, err)
	}
	return nil
}

func checkID(id string) error {
	if id == "" || len(id) > MaxIDLen || !codec.Printable(id) {
		return fmt.Errorf("%w: id must be 1..%d printable characters", ErrBadArgs, MaxIDLen)
	}
	return nil
}

func owned(ctx *module.Context, id string) (*Record, error) {
	raw, err := ctx.Get(Key(id))
	if err != nil || raw == nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("records: stored record %q corrupt: %w", id, err)
	}
	if rec.Owner != ctx.Sender.String() {
		return nil, ErrNotOwner
	}
	return &rec, nil
}

func put(ctx *module.Context, args []byte) error {
	var a PutArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if err := checkID(a.ID); err != nil {
		return err
	}
	if len(a.Data) > MaxDataLen {
		return fmt.Errorf("%w: data over %d bytes", ErrBadArgs, MaxDataLen)
	}
	if _, err := owned(ctx, a.ID); err != nil {
		return err
	}
	rec := Record{Owner: ctx.Sender.String(), Data: a.Data, Height: ctx.Block.Height, Time: ctx.Block.Time}
	val, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := ctx.Set(Key(a.ID), val); err != nil {
		return err
	}
	return ctx.Emit("record_put", "id", a.ID, "owner", rec.Owner)
}

func del(ctx *module.Context, args []byte) error {
	var a DeleteArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if err := checkID(a.ID); err != nil {
		return err
	}
	rec, err := owned(ctx, a.ID)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, a.ID)
	}
	if err := ctx.Delete(Key(a.ID)); err != nil {
		return err
	}
	return ctx.Emit("record_deleted", "id", a.ID)
}

// StateKey is the full state key of a record, for proofs.
func StateKey(id string) []byte { return module.StateKey(Name, Key(id)) }
