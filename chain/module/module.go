// Package module defines native contracts: Go code a chain runs for a
// transaction's (module, method). A module declares its methods, touches state
// only through its Context, pays for every operation with work units, and must
// be deterministic: the same state and arguments give the same writes,
// events, work and error on every node (no clocks, randomness, map-order
// dependence, goroutines or I/O).
package module

import (
	"errors"
	"fmt"
	"sort"

	"github.com/polityledger/polity/chain"
)

// Handler executes one method. A returned error fails the transaction: its
// writes and events are discarded and the error text goes into the receipt.
type Handler func(ctx *Context, args []byte) error

// Method is a declared entry point.
type Method struct {
	Name    string
	Handler Handler
}

// Module is a native contract.
type Module interface {
	// Name is the module's identifier in transactions and its state namespace.
	Name() string
	// Methods lists the callable methods; the list must not change.
	Methods() []Method
}

// Errors from the registry and from execution.
var (
	ErrUnknownModule = errors.New("unknown module")
	ErrUnknownMethod = errors.New("unknown method")
	ErrOutOfWork     = errors.New("out of work")
	ErrLimit         = errors.New("limit exceeded")
)

// Registry maps module and method names to handlers for one chain. It is
// built at start-up and read-only afterwards, so concurrent reads are safe.
type Registry struct {
	methods map[string]map[string]Handler
	names   []string
}

// NewRegistry registers mods, rejecting invalid or repeated names.
func NewRegistry(mods ...Module) (*Registry, error) {
	r := &Registry{methods: make(map[string]map[string]Handler)}
	for _, m := range mods {
		name := m.Name()
		if !chain.ValidName(name) || name == SystemNamespace {
			return nil, fmt.Errorf("module name %q is invalid or reserved", name)
		}
		if _, dup := r.methods[name]; dup {
			return nil, fmt.Errorf("module %q registered twice", name)
		}
		ms := make(map[string]Handler)
		for _, meth := range m.Methods() {
			if !chain.ValidName(meth.Name) || meth.Handler == nil {
				return nil, fmt.Errorf("module %s: method %q invalid", name, meth.Name)
			}
			if _, dup := ms[meth.Name]; dup {
				return nil, fmt.Errorf("module %s: method %q declared twice", name, meth.Name)
			}
			ms[meth.Name] = meth.Handler
		}
		r.methods[name] = ms
		r.names = append(r.names, name)
	}
	sort.Strings(r.names)
	return r, nil
}

// Lookup returns the handler for module.method.
func (r *Registry) Lookup(mod, method string) (Handler, error) {
	ms, ok := r.methods[mod]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownModule, mod)
	}
	h, ok := ms[method]
	if !ok {
		return nil, fmt.Errorf("%w: %s.%s", ErrUnknownMethod, mod, method)
	}
	return h, nil
}

// Modules returns the registered module names, sorted.
func (r *Registry) Modules() []string { return append([]string(nil), r.names...) }

// Methods returns the sorted method names of mod.
func (r *Registry) Methods(mod string) []string {
	var out []string
	for m := range r.methods[mod] {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
