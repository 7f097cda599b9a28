package registry_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
)

const chainID = "identity"

// chainState is committed state as a map.
type chainState map[string][]byte

func (m chainState) Get(k []byte) ([]byte, error) { return m[string(k)], nil }

// harness is an identity chain executed block by block, one transaction
// per block, by the serial executor.
type harness struct {
	t      testing.TB
	suite  crypto.Suite
	ex     *exec.Serial
	state  chainState
	height uint64
	nonces map[chain.Address]uint64
}

func newHarness(t testing.TB, s crypto.Suite, admins ...string) *harness {
	t.Helper()
	params, _ := json.Marshal(registry.Params{Admins: admins})
	mods, err := registry.New(module.Env{ChainID: chainID, Suite: s, Params: map[string]json.RawMessage{registry.RolesModule: params}})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := module.NewRegistry(mods...)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, suite: s, ex: exec.NewSerial(exec.Config{Suite: s, Registry: reg}), state: chainState{}, nonces: map[chain.Address]uint64{}}
}

// fork returns an independent copy, for trying a transaction.
func (h *harness) fork() *harness {
	c := *h
	c.state = maps.Clone(h.state)
	c.nonces = maps.Clone(h.nonces)
	return &c
}

func (h *harness) read() registry.Reader {
	return func(k []byte) ([]byte, error) { return h.state[string(k)], nil }
}

// run executes one transaction in the next block and commits its writes.
func (h *harness) run(k crypto.PrivateKey, mod, method string, args any) *chain.Receipt {
	h.t.Helper()
	raw, ok := args.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(args); err != nil {
			h.t.Fatal(err)
		}
	}
	addr := chain.AddressOf(h.suite, k.Public().Bytes())
	tx := &chain.Tx{ChainID: chainID, Nonce: h.nonces[addr], Module: mod, Method: method, Args: raw}
	if err := tx.Sign(h.suite, k); err != nil {
		h.t.Fatal(err)
	}
	h.height++
	res, err := h.ex.Execute(module.Block{ChainID: chainID, Height: h.height, Time: 1_700_000_000_000 + h.height}, []*chain.Tx{tx}, h.state, exec.Verify)
	if err != nil {
		h.t.Fatal(err)
	}
	h.nonces[addr]++
	for _, w := range res.Writes {
		if w.Value == nil {
			delete(h.state, string(w.Key))
		} else {
			h.state[string(w.Key)] = w.Value
		}
	}
	return res.Receipts[0]
}

// ok runs a transaction that must succeed.
func (h *harness) ok(k crypto.PrivateKey, mod, method string, args any) *chain.Receipt {
	h.t.Helper()
	rc := h.run(k, mod, method, args)
	if rc.Status != chain.StatusOK {
		h.t.Fatalf("%s.%s failed: %s", mod, method, rc.Error)
	}
	return rc
}

// fails runs a transaction that must fail with want's text in its receipt.
func (h *harness) fails(k crypto.PrivateKey, mod, method string, args any, want error) {
	h.t.Helper()
	rc := h.run(k, mod, method, args)
	if rc.Status != chain.StatusFailed || !strings.Contains(rc.Error, want.Error()) {
		h.t.Fatalf("%s.%s: status %v error %q, want failure with %q", mod, method, rc.Status, rc.Error, want)
	}
}

func (h *harness) key() crypto.PrivateKey {
	h.t.Helper()
	k, err := h.suite.GenerateKey(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return k
}

func keyDID(s crypto.Suite, k crypto.PrivateKey) string {
	return did.KeyDID(chain.AddressOf(s, k.Public().Bytes())).String()
}

// newDoc builds a document for the initial key subj, attested by the
// authority method authURL with key auth.
func (h *harness) newDoc(typ did.Type, subj crypto.PrivateKey, authURL string, auth crypto.PrivateKey) *did.Document {
	h.t.Helper()
	d := &did.Document{
		ID:                  did.Derive(h.suite, subj.Public().Bytes()).String(),
		Type:                typ,
		VerificationMethods: []did.VerificationMethod{{ID: "key-1", Type: did.KeyType(h.suite.Name()), PublicKey: subj.Public().Bytes()}},
		Attributes:          map[string]string{"name": "subject " + string(typ)},
		Authority:           authURL,
	}
	if u, _ := did.ParseURL(authURL); u.DID.Kind == did.KindKey {
		d.AuthorityKey = auth.Public().Bytes()
	}
	if err := d.SignClaim(auth); err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *harness) registerArgs(d *did.Document, subj crypto.PrivateKey) registry.RegisterArgs {
	h.t.Helper()
	js, err := json.Marshal(d)
	if err != nil {
		h.t.Fatal(err)
	}
	sig, err := d.SignRegistration(subj)
	if err != nil {
		h.t.Fatal(err)
	}
	return registry.RegisterArgs{Document: js, RegistrationSig: sig}
}

func updateArgs(t testing.TB, d *did.Document, as string) registry.UpdateArgs {
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return registry.UpdateArgs{Document: js, As: as}
}

// clone deep-copies a document.
func clone(d *did.Document) *did.Document {
	c := *d
	c.VerificationMethods = append([]did.VerificationMethod(nil), d.VerificationMethods...)
	c.Services = append([]did.Service(nil), d.Services...)
	c.Attributes = maps.Clone(d.Attributes)
	return &c
}

// world is a registry with a genesis admin (a key DID), a ministry DID
// holding the registrar role and trusted for "CitizenID", and a person it
// registered.
type world struct {
	*harness
	admin             crypto.PrivateKey
	adminDID          string
	ministry          crypto.PrivateKey
	ministryDoc       *did.Document
	person            crypto.PrivateKey
	personDoc         *did.Document
	personRegisteredH uint64
}

func newWorld(t testing.TB, s crypto.Suite) *world {
	t.Helper()
	w := &world{}
	probe := newHarness(t, s)
	w.admin = probe.key()
	w.adminDID = keyDID(s, w.admin)
	w.harness = newHarness(t, s, w.adminDID)
	// The genesis admin appoints itself registrar, registers the ministry,
	// and makes the ministry a registrar and a trusted issuer.
	w.ok(w.admin, "roles", "grant", registry.GrantArgs{Holder: w.adminDID, Role: registry.RoleRegistrar, Scope: registry.Scope{Chain: chainID, Module: "did", Method: "*"}})
	w.ministry = w.key()
	w.ministryDoc = w.newDoc(did.TypeOrganisation, w.ministry, w.adminDID+"#key-0", w.admin)
	w.ok(w.admin, "did", "register", w.registerArgs(w.ministryDoc, w.ministry))
	w.ok(w.admin, "roles", "grant", registry.GrantArgs{Holder: w.ministryDoc.ID, Role: registry.RoleRegistrar, Scope: registry.Scope{Chain: "*", Module: "did", Method: "*"}})
	w.ok(w.admin, "trust", "set", registry.TrustArgs{Issuer: w.ministryDoc.ID, CredentialType: "CitizenID"})
	w.person = w.key()
	w.personDoc = w.newDoc(did.TypePerson, w.person, w.ministryDoc.ID+"#key-1", w.ministry)
	w.ok(w.ministry, "did", "register", w.registerArgs(w.personDoc, w.person))
	w.personRegisteredH = w.height
	return w
}
