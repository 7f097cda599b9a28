package services

// Valid requests for the identity write operations (validRequests). Each
// builds a transaction the identity modules accept (the on-chain
// registrar, admin, issuer and controller rules hold for its signer), so
// the accepted case of TestWriteAuth commits with an ok receipt. State a
// transaction needs first (a registered DID, a trust entry, a list) is
// committed by the operator. These operations write the identity chain
// whatever chain the test names.

import (
	"net/http"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
)

// testCredentialType is the credential type the builders trust issuers for.
const testCredentialType = "AuthTestCredential"

// identityPath is an identity write endpoint, waiting for the commit.
func identityPath(p string) string { return "/v1/identity" + p + "?wait=10" }

// asRegistrar makes the operator a registrar for DID registrations.
func (tn *testNet) asRegistrar() {
	tn.ensureRole(tn.keyDID(tn.operator), registry.RoleRegistrar, registry.Scope{Chain: "identity", Module: registry.DIDModule, Method: "register"})
}

// trustTx builds the operator's trust.set or trust.remove for issuer.
func (tn *testNet) trustTx(method, issuer string) (string, string, []byte) {
	tx := tn.tx(tn.operator, "identity", registry.TrustModule, method, registry.TrustArgs{Issuer: issuer, CredentialType: testCredentialType})
	return "POST", identityPath("/trust/" + method), submitBody(tx)
}

// statusListTx builds issuer's status.create of a revocation list id,
// after the operator trusts issuer for testCredentialType.
func (tn *testNet) statusListTx(issuer crypto.PrivateKey, id string) (string, string, []byte) {
	d := tn.keyDID(issuer)
	tn.commit(tn.admin(), tn.tx(tn.operator, "identity", registry.TrustModule, "set", registry.TrustArgs{Issuer: d, CredentialType: testCredentialType}))
	tx := tn.tx(issuer, "identity", registry.StatusModule, "create",
		registry.CreateArgs{ID: id, Purpose: registry.PurposeRevocation, Size: registry.MinListBits, CredentialType: testCredentialType})
	return "POST", identityPath("/status/create"), submitBody(tx)
}

func validRegisterDID(tn *testNet, _ string) (string, string, []byte) {
	tn.asRegistrar()
	_, tx := tn.registerTx(tn.key())
	return "POST", identityPath("/dids"), submitBody(tx)
}

func validUpdateDID(tn *testNet, _ string) (string, string, []byte) {
	tn.asRegistrar()
	k := tn.key()
	doc := tn.registerOrg(k)
	_, tx := tn.rotateTx(doc, k, tn.key(), "key-2") // signed by the DID's own key
	return "POST", identityPath("/dids/" + doc.ID + "/update"), submitBody(tx)
}

func validDeactivateDID(tn *testNet, _ string) (string, string, []byte) {
	tn.asRegistrar()
	k := tn.key()
	doc := tn.registerOrg(k)
	tx := tn.tx(k, "identity", registry.DIDModule, "deactivate", registry.DeactivateArgs{DID: doc.ID})
	return "POST", identityPath("/dids/" + doc.ID + "/deactivate"), submitBody(tx)
}

func validGrantRole(tn *testNet, _ string) (string, string, []byte) {
	tx := tn.tx(tn.operator, "identity", registry.RolesModule, "grant",
		registry.GrantArgs{Holder: tn.keyDID(tn.key()), Role: RoleWriter, Scope: registry.Scope{Chain: "health", Module: "records", Method: "put"}})
	return "POST", identityPath("/roles/grant"), submitBody(tx)
}

func validRevokeRole(tn *testNet, _ string) (string, string, []byte) {
	holder, s := tn.keyDID(tn.key()), registry.Scope{Chain: "health", Module: "records", Method: "put"}
	tn.grant(holder, RoleWriter, s)
	tx := tn.tx(tn.operator, "identity", registry.RolesModule, "revoke", registry.GrantArgs{Holder: holder, Role: RoleWriter, Scope: s})
	return "POST", identityPath("/roles/revoke"), submitBody(tx)
}

func validSetTrust(tn *testNet, _ string) (string, string, []byte) {
	return tn.trustTx("set", tn.keyDID(tn.key()))
}

func validRemoveTrust(tn *testNet, _ string) (string, string, []byte) {
	issuer := tn.keyDID(tn.key())
	tn.commit(tn.admin(), tn.tx(tn.operator, "identity", registry.TrustModule, "set", registry.TrustArgs{Issuer: issuer, CredentialType: testCredentialType}))
	return tn.trustTx("remove", issuer)
}

func validCreateStatusList(tn *testNet, _ string) (string, string, []byte) {
	return tn.statusListTx(tn.key(), "auth-test")
}

func validSetStatus(tn *testNet, _ string) (string, string, []byte) {
	issuer := tn.key()
	_, _, create := tn.statusListTx(issuer, "auth-test")
	if r := tn.do(tn.request(tn.admin(), "POST", identityPath("/status/create"), create)); r.status != http.StatusOK || r.tx.Receipt == nil || r.tx.Receipt.Status != openapi.ReceiptStatusOk {
		tn.t.Fatalf("status.create: %d %s %s", r.status, r.code, r.detail)
	}
	tx := tn.tx(issuer, "identity", registry.StatusModule, "set", registry.SetArgs{ID: "auth-test", Index: 5, Action: registry.ActionRevoke})
	return "POST", identityPath("/status/set"), submitBody(tx)
}
