package registry_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/registry"
)

func TestRoles(t *testing.T) {
	s := suites[0]
	w := newWorld(t, s)
	p := &registry.Params{Admins: []string{w.adminDID}}
	dept := registry.Scope{Chain: "education", Module: "records", Method: "put"}
	has := func(holder, role string, sc registry.Scope) bool {
		t.Helper()
		ok, err := registry.HasRole(w.read(), p, holder, role, sc)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !has(w.adminDID, registry.RoleAdmin, dept) || has(w.ministryDoc.ID, registry.RoleAdmin, dept) {
		t.Fatal("genesis admin")
	}
	if !has(w.ministryDoc.ID, registry.RoleRegistrar, registry.Scope{Chain: "any", Module: "did", Method: "register"}) {
		t.Fatal("wildcard chain grant not matched")
	}
	if has(w.ministryDoc.ID, registry.RoleRegistrar, registry.Scope{Chain: "any", Module: "trust", Method: "set"}) {
		t.Fatal("grant matched another module")
	}

	// A scoped admin for the education chain.
	w.ok(w.admin, "roles", "grant", registry.GrantArgs{Holder: w.ministryDoc.ID, Role: registry.RoleAdmin, Scope: registry.Scope{Chain: "education", Module: "*", Method: "*"}})
	if !has(w.ministryDoc.ID, registry.RoleAdmin, dept) || has(w.ministryDoc.ID, registry.RoleAdmin, registry.Scope{Chain: "health", Module: "records", Method: "put"}) {
		t.Fatal("scoped admin")
	}
	// It may grant within its scope (acting as its registered DID)...
	clerk := w.key()
	clerkDID := keyDID(s, clerk)
	w.ok(w.ministry, "roles", "grant", registry.GrantArgs{Holder: clerkDID, Role: "clerk", Scope: dept, As: w.ministryDoc.ID})
	if !has(clerkDID, "clerk", dept) || has(clerkDID, "clerk", registry.Scope{Chain: "education", Module: "records", Method: "delete"}) {
		t.Fatal("clerk grant")
	}
	// ...and revoke it.
	w.ok(w.ministry, "roles", "revoke", registry.GrantArgs{Holder: clerkDID, Role: "clerk", Scope: dept, As: w.ministryDoc.ID})
	if has(clerkDID, "clerk", dept) {
		t.Fatal("revoked role still held")
	}

	stranger := w.key()
	tests := []struct {
		name   string
		signer crypto.PrivateKey
		method string
		args   any
		want   error
	}{
		{"not admin", stranger, "grant", registry.GrantArgs{Holder: clerkDID, Role: "clerk", Scope: dept}, registry.ErrNotAuthorised},
		{"beyond scoped admin", w.ministry, "grant", registry.GrantArgs{Holder: clerkDID, Role: "clerk", Scope: registry.Scope{Chain: "*", Module: "records", Method: "put"}, As: w.ministryDoc.ID}, registry.ErrNotAuthorised},
		{"scoped admin escalates", w.ministry, "grant", registry.GrantArgs{Holder: clerkDID, Role: registry.RoleAdmin, Scope: registry.Scope{Chain: "health", Module: "*", Method: "*"}, As: w.ministryDoc.ID}, registry.ErrNotAuthorised},
		{"acting as another DID", stranger, "grant", registry.GrantArgs{Holder: clerkDID, Role: "clerk", Scope: dept, As: w.adminDID}, registry.ErrNotSigner},
		{"duplicate", w.admin, "grant", registry.GrantArgs{Holder: w.ministryDoc.ID, Role: registry.RoleRegistrar, Scope: registry.Scope{Chain: "*", Module: "did", Method: "*"}}, registry.ErrExists},
		{"revoke absent", w.admin, "revoke", registry.GrantArgs{Holder: clerkDID, Role: "clerk", Scope: dept}, registry.ErrNotFound},
		{"bad role name", w.admin, "grant", registry.GrantArgs{Holder: clerkDID, Role: "Clerk!", Scope: dept}, registry.ErrBadArgs},
		{"bad scope", w.admin, "grant", registry.GrantArgs{Holder: clerkDID, Role: "clerk", Scope: registry.Scope{Chain: "", Module: "*", Method: "*"}}, registry.ErrBadArgs},
		{"bad holder", w.admin, "grant", registry.GrantArgs{Holder: "did:web:x", Role: "clerk", Scope: dept}, registry.ErrBadArgs},
		{"unregistered holder", w.admin, "grant", registry.GrantArgs{Holder: "did:polity:0123456789abcdef0123456789abcdef", Role: "clerk", Scope: dept}, registry.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := w.fork()
			f.t = t
			f.fails(tc.signer, "roles", tc.method, tc.args, tc.want)
		})
	}
}

func TestTrust(t *testing.T) {
	s := suites[0]
	w := newWorld(t, s)
	may := func(issuer, typ string) bool {
		t.Helper()
		ok, err := registry.MayIssue(w.read(), issuer, typ)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !may(w.ministryDoc.ID, "CitizenID") || may(w.ministryDoc.ID, "Diploma") || may(w.personDoc.ID, "CitizenID") {
		t.Fatal("trust registry")
	}
	w.ok(w.admin, "trust", "remove", registry.TrustArgs{Issuer: w.ministryDoc.ID, CredentialType: "CitizenID"})
	if may(w.ministryDoc.ID, "CitizenID") {
		t.Fatal("removed trust still held")
	}
	stranger := w.key()
	tests := []struct {
		name   string
		signer crypto.PrivateKey
		method string
		args   registry.TrustArgs
		want   error
	}{
		{"not admin", w.ministry, "set", registry.TrustArgs{Issuer: w.ministryDoc.ID, CredentialType: "Diploma", As: w.ministryDoc.ID}, registry.ErrNotAuthorised},
		{"stranger", stranger, "set", registry.TrustArgs{Issuer: w.ministryDoc.ID, CredentialType: "Diploma"}, registry.ErrNotAuthorised},
		{"remove absent", w.admin, "remove", registry.TrustArgs{Issuer: w.ministryDoc.ID, CredentialType: "Diploma"}, registry.ErrNotFound},
		{"empty type", w.admin, "set", registry.TrustArgs{Issuer: w.ministryDoc.ID}, registry.ErrBadArgs},
		{"bad issuer", w.admin, "set", registry.TrustArgs{Issuer: "nobody", CredentialType: "Diploma"}, registry.ErrBadArgs},
		{"unregistered issuer", w.admin, "set", registry.TrustArgs{Issuer: "did:polity:0123456789abcdef0123456789abcdef", CredentialType: "Diploma"}, registry.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := w.fork()
			f.t = t
			f.fails(tc.signer, "trust", tc.method, tc.args, tc.want)
		})
	}
	// A deactivated issuer cannot be trusted anew.
	w.ok(w.person, "did", "deactivate", registry.DeactivateArgs{DID: w.personDoc.ID})
	w.fails(w.admin, "trust", "set", registry.TrustArgs{Issuer: w.personDoc.ID, CredentialType: "Diploma"}, registry.ErrDeactivated)
}

func TestParams(t *testing.T) {
	s := suites[0]
	for name, raw := range map[string]string{
		"unknown field":  `{"admins":[],"x":1}`,
		"bad admin":      `{"admins":["did:web:x"]}`,
		"repeated admin": `{"admins":["did:polity:0123456789abcdef0123456789abcdef","did:polity:0123456789abcdef0123456789abcdef"]}`,
		"not an object":  `[]`,
	} {
		_, err := registry.New(module.Env{ChainID: chainID, Suite: s, Params: map[string]json.RawMessage{registry.RolesModule: json.RawMessage(raw)}})
		if !errors.Is(err, module.ErrParams) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := registry.New(module.Env{ChainID: chainID, Suite: s, Params: map[string]json.RawMessage{registry.DIDModule: json.RawMessage(`{}`)}}); !errors.Is(err, module.ErrParams) {
		t.Errorf("params for did accepted: %v", err)
	}
	if _, err := registry.New(module.Env{ChainID: chainID}); !errors.Is(err, module.ErrParams) {
		t.Errorf("no suite accepted: %v", err)
	}
	// Unconfigured modules (a catalog entry registered as is) fail every call.
	reg, err := module.NewRegistry(registry.Modules()...)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := reg.Lookup("did", "register")
	if err := h(nil, nil); !errors.Is(err, registry.ErrNotConfigured) {
		t.Fatalf("unconfigured: %v", err)
	}
}
