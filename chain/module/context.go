package module

import (
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
)

// SystemNamespace holds state the executor itself keeps (sender nonces).
const SystemNamespace = "sys"

// Key limits.
const (
	MaxKeyLen   = 256
	MaxValueLen = 256 << 10
)

// StateKey is the full state key of a module's key: module name, a zero byte,
// then the key. Distinct modules can never address each other's keys.
func StateKey(mod string, key []byte) []byte {
	return AppendStateKey(make([]byte, 0, len(mod)+1+len(key)), mod, key)
}

// AppendStateKey appends StateKey(mod, key) to dst.
func AppendStateKey(dst []byte, mod string, key []byte) []byte {
	return append(append(append(dst, mod...), 0), key...)
}

// KV is the key-value view a transaction executes against. Get returns nil
// for an absent key; Set with a nil value is not allowed (use Delete).
// Implementations are supplied by the executor. They must not keep the
// key slice passed to any method after it returns (Context reuses one
// buffer for every key it builds) nor the value passed to Set.
type KV interface {
	Get(key []byte) ([]byte, error)
	Set(key, value []byte)
	Delete(key []byte)
}

// Block is what a transaction may know about its block.
type Block struct {
	ChainID string
	Height  uint64
	Time    uint64 // proposer's time, Unix milliseconds
}

// Context is a transaction's view of the chain during one method call.
type Context struct {
	Block  Block
	Sender chain.Address
	// SenderID is the verification-method ID that signed the transaction.
	SenderID string
	module   string
	kv       KV
	meter    *Meter
	events   []chain.Event
	key      []byte // scratch for stateKey
}

// stateKey is StateKey(mod, key) in c's scratch buffer, valid until the
// next call: a transaction's every read and write would otherwise allocate
// its key.
func (c *Context) stateKey(mod string, key []byte) []byte {
	c.key = AppendStateKey(c.key[:0], mod, key)
	return c.key
}

// NewContext is used by executors to run one call of module mod.
func NewContext(b Block, sender chain.Address, senderID, mod string, kv KV, m *Meter) *Context {
	return &Context{Block: b, Sender: sender, SenderID: senderID, module: mod, kv: kv, meter: m}
}

// Get reads key from the module's namespace, charging work.
func (c *Context) Get(key []byte) ([]byte, error) { return c.GetFrom(c.module, key) }

// GetFrom reads key from module mod's namespace, charging work as Get does.
// Reading another module's state is allowed (the identity registry's
// modules read each other's roles, trust lists and documents); writing it
// is not.
func (c *Context) GetFrom(mod string, key []byte) ([]byte, error) {
	if len(key) > MaxKeyLen {
		return nil, fmt.Errorf("%w: key of %d bytes", ErrLimit, len(key))
	}
	if err := c.meter.Charge(CostRead + uint64(len(key))); err != nil {
		return nil, err
	}
	v, err := c.kv.Get(c.stateKey(mod, key))
	if err != nil {
		return nil, err
	}
	return v, c.meter.Charge(uint64(len(v)) * CostReadByte)
}

// Set writes key in the module's namespace, charging work.
func (c *Context) Set(key, value []byte) error {
	if len(key) == 0 || len(key) > MaxKeyLen || len(value) > MaxValueLen || value == nil {
		return fmt.Errorf("%w: key %d bytes, value %d bytes", ErrLimit, len(key), len(value))
	}
	if err := c.meter.Charge(CostWrite + uint64(len(key)+len(value))*CostWriteByte); err != nil {
		return err
	}
	c.kv.Set(c.stateKey(c.module, key), value)
	return nil
}

// Delete removes key from the module's namespace, charging work.
func (c *Context) Delete(key []byte) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key of %d bytes", ErrLimit, len(key))
	}
	if err := c.meter.Charge(CostWrite); err != nil {
		return err
	}
	c.kv.Delete(c.stateKey(c.module, key))
	return nil
}

// Emit records an event; attrs alternate key, value.
func (c *Context) Emit(typ string, attrs ...string) error {
	if len(c.events) >= chain.MaxEvents || len(attrs)/2 > chain.MaxAttrs || len(attrs)%2 != 0 {
		return fmt.Errorf("%w: too many events or attributes", ErrLimit)
	}
	// Receipts must decode again: the same bounds and printability rules.
	if typ == "" || len(typ) > chain.MaxNameLen || !codec.Printable(typ) {
		return fmt.Errorf("%w: event type must be 1..%d printable bytes", ErrLimit, chain.MaxNameLen)
	}
	e := chain.Event{Type: typ}
	if len(attrs) > 0 {
		e.Attrs = make([]chain.Attr, 0, len(attrs)/2)
	}
	size := len(typ)
	for i := 0; i < len(attrs); i += 2 {
		if len(attrs[i]) > chain.MaxNameLen || len(attrs[i+1]) > chain.MaxAttrValue || !codec.Printable(attrs[i]) || !codec.Printable(attrs[i+1]) {
			return fmt.Errorf("%w: event attribute too long or not printable", ErrLimit)
		}
		e.Attrs = append(e.Attrs, chain.Attr{Key: attrs[i], Value: attrs[i+1]})
		size += len(attrs[i]) + len(attrs[i+1])
	}
	if err := c.meter.Charge(CostEvent + uint64(size)*CostWriteByte); err != nil {
		return err
	}
	c.events = append(c.events, e)
	return nil
}

// Events returns the events emitted so far; the executor takes ownership.
func (c *Context) Events() []chain.Event { return c.events }

// Charge spends work directly, for computation a module does itself.
func (c *Context) Charge(units uint64) error { return c.meter.Charge(units) }
