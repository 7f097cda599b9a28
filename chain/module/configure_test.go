package module_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/polityledger/polity/chain/module"
)

type plain struct{}

func (plain) Name() string             { return "plain" }
func (plain) Methods() []module.Method { return nil }

type tuned struct{ limit string }

func (tuned) Name() string             { return "tuned" }
func (tuned) Methods() []module.Method { return nil }
func (tuned) Configure(env module.Env) (module.Module, error) {
	var p struct{ Limit string }
	if raw, ok := env.Params["tuned"]; ok {
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, errors.Join(module.ErrParams, err)
		}
	}
	return tuned{limit: env.ChainID + "/" + p.Limit}, nil
}

func TestConfigure(t *testing.T) {
	env := module.Env{ChainID: "c", Params: map[string]json.RawMessage{"tuned": json.RawMessage(`{"Limit":"7"}`)}}
	m, err := module.Configure(tuned{}, env)
	if err != nil || m.(tuned).limit != "c/7" {
		t.Fatalf("Configure = %+v, %v", m, err)
	}
	if m, err := module.Configure(plain{}, env); err != nil || m != (plain{}) {
		t.Fatalf("plain module: %v, %v", m, err)
	}
	env.Params["plain"] = json.RawMessage(`{}`)
	if _, err := module.Configure(plain{}, env); !errors.Is(err, module.ErrParams) {
		t.Fatalf("params for a module that takes none: %v", err)
	}
	env.Params["tuned"] = json.RawMessage(`{"Limit":1}`)
	if _, err := module.Configure(tuned{}, env); !errors.Is(err, module.ErrParams) {
		t.Fatalf("bad params: %v", err)
	}
}
