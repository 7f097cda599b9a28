package services

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
)

// TestPrunedAnswers410: a node keeping 16 blocks answers 410 pruned for a
// block and a transaction below its base, serves those above it, and
// reports the base.
func TestPrunedAnswers410(t *testing.T) {
	tn := newTestNetRetaining(t, ledger.MinRetainBlocks)
	scope := registry.Scope{Chain: "identity", Module: registry.Wildcard, Method: registry.Wildcard}
	first := tn.tx(tn.granter, "identity", registry.RolesModule, "grant", registry.GrantArgs{Holder: tn.keyDID(tn.key()), Role: registry.RoleAdmin, Scope: scope})
	tn.commit(&signer{key: tn.granter}, first)
	for range ledger.MinRetainBlocks + 2 {
		tn.grant(tn.keyDID(tn.key()), registry.RoleAdmin, scope)
	}
	var ch openapi.ChainDetail
	resp, raw := tn.roundTrip(tn.request(nil, "GET", "/v1/chains/identity", nil))
	if err := json.Unmarshal(raw, &ch); resp.StatusCode != http.StatusOK || err != nil || ch.Base == nil || *ch.Base < 2 {
		t.Fatalf("chain: %d %v base %v", resp.StatusCode, err, ch.Base)
	}
	base := *ch.Base
	for path, want := range map[string]int{
		fmt.Sprintf("/v1/chains/identity/blocks/%d", base-1):              http.StatusGone,
		"/v1/chains/identity/transactions/" + first.ID(tn.suite).String(): http.StatusGone,
		fmt.Sprintf("/v1/chains/identity/blocks/%d", base):                http.StatusOK,
		"/v1/chains/identity/blocks/0":                                    http.StatusOK,
	} {
		r := tn.do(tn.request(nil, "GET", path, nil))
		if r.status != want || want == http.StatusGone && r.code != CodePruned {
			t.Errorf("%s: %d %s %s, want %d", path, r.status, r.code, r.detail, want)
		}
	}
}
