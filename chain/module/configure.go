package module

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// ErrParams wraps every error about a module's genesis parameters.
var ErrParams = errors.New("module parameters")

// Env is what a module learns about the chain it is built for.
type Env struct {
	ChainID string
	Suite   crypto.Suite
	// Params holds every module's genesis parameters by module name
	// (chain.Genesis.Params); absent when the genesis sets none. A module
	// reads its own entry and may read a sibling's it builds on. Read-only.
	Params map[string]json.RawMessage
	// Validators is the chain's genesis validator set. Read-only.
	Validators *chain.ValidatorSet
}

// Configurable is implemented by a module that needs its chain's suite or
// genesis parameters. Configure is called once when the chain's registry is
// built, also when the genesis has no parameters for the module, and returns
// the module to register. It must decode its parameters strictly and fail
// with an error wrapping ErrParams on anything invalid; the result must be
// deterministic in env.
type Configurable interface {
	Module
	Configure(env Env) (Module, error)
}

// Configure returns m configured for env when it is Configurable. A module
// that is not refuses parameters addressed to it.
func Configure(m Module, env Env) (Module, error) {
	if c, ok := m.(Configurable); ok {
		out, err := c.Configure(env)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m.Name(), err)
		}
		if out == nil || out.Name() != m.Name() {
			return nil, fmt.Errorf("module %s: Configure returned another module", m.Name())
		}
		return out, nil
	}
	if _, ok := env.Params[m.Name()]; ok {
		return nil, fmt.Errorf("%w: module %s takes none", ErrParams, m.Name())
	}
	return m, nil
}
