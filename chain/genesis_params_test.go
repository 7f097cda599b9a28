package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestGenesisParams(t *testing.T) {
	g := testGenesis(t, edSuite, 1)
	before := g.Encode()
	if strings.Contains(string(before), "params") {
		t.Fatal("a genesis without params must encode as before")
	}
	g.Params = map[string]json.RawMessage{
		"records":  json.RawMessage(`{ "b": 1, "a": [1, 2] }`),
		"identity": json.RawMessage(`{"admins":["did:polity:x<y"]}`),
	}
	if err := g.Validate(edSuite); err != nil {
		t.Fatal(err)
	}
	enc := g.Encode()
	got, err := DecodeGenesis(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) || got.Validate(edSuite) != nil {
		t.Fatalf("params do not round-trip canonically:\n%s\n%s", enc, got.Encode())
	}
	if !strings.Contains(string(enc), `"params":{"identity":`) {
		t.Fatalf("params not sorted by module: %s", enc)
	}

	for name, p := range map[string]map[string]json.RawMessage{
		"unlisted module": {"status": json.RawMessage(`{}`)},
		"not an object":   {"records": json.RawMessage(`[1]`)},
		"null":            {"records": json.RawMessage(`null`)},
		"oversize":        {"records": json.RawMessage(`{"x":"` + strings.Repeat("a", MaxModuleParamsSize) + `"}`)},
	} {
		g.Params = p
		if err := g.Validate(edSuite); !errors.Is(err, ErrBadGenesis) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
