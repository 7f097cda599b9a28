package services

// Valid requests for the zk and aggregate write operations (validRequests).

import (
	"crypto/rand"
	"sync"

	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/privacy/zk"
)

// authOnly lists write operations whose accepted case this one-node test
// federation cannot complete: there the request must pass authentication
// and authorisation (no 401 or 403), whatever the handler then answers.
// Their full flows run in cmd/polity's end-to-end tests.
var authOnly = map[string]string{
	"proposeAggregateQuery": "a query needs at least two federation nodes (cmd/polity/aggregate_e2e_test.go)",
	"submitAggregateInput":  "input goes to a node's aggregation driver (cmd/polity/aggregate_e2e_test.go)",
}

func init() {
	validRequests["zkSetIssuerKey"] = validSetIssuerKey
	validRequests["zkPublishVerifyingKey"] = validPublishVerifyingKey
	validRequests["proposeAggregateQuery"] = validProposeAggregate
	validRequests["submitAggregateInput"] = validAggregateInput
}

// validSetIssuerKey: a fresh issuer (its own key DID) sets its BN254 key.
func validSetIssuerKey(tn *testNet, _ string) (string, string, []byte) {
	ik, err := zk.GenerateIssuerKey(rand.Reader)
	if err != nil {
		tn.t.Fatal(err)
	}
	pub := ik.Public()
	issuer := tn.key()
	tx := tn.tx(issuer, "identity", registry.ZKKeysModule, registry.MethodSetIssuerKey,
		registry.SetIssuerKeyArgs{Issuer: tn.keyDID(issuer), Key: pub[:]})
	return "POST", "/v1/zk/issuer-keys?wait=10", submitBody(tx)
}

var testVK = sync.OnceValues(func() ([]byte, error) {
	_, vk, err := zk.InsecureSetup(zk.InRange) // test keys: published only to this test chain
	if err != nil {
		return nil, err
	}
	return vk.MarshalBinary()
})

// validPublishVerifyingKey: the operator (an admin) publishes a verifying key.
func validPublishVerifyingKey(tn *testNet, _ string) (string, string, []byte) {
	vk, err := testVK()
	if err != nil {
		tn.t.Fatal(err)
	}
	tx := tn.tx(tn.operator, "identity", registry.ZKKeysModule, registry.MethodPublishVerifyingKey,
		registry.PublishVerifyingKeyArgs{Predicate: zk.InRange.String(), Key: vk})
	return "POST", "/v1/zk/verifying-keys?wait=10", submitBody(tx)
}

// validProposeAggregate: a governance aggregate.propose (auth only, see authOnly).
func validProposeAggregate(tn *testNet, _ string) (string, string, []byte) {
	a, b := tn.keyDID(tn.key()), tn.keyDID(tn.key())
	tx := tn.tx(tn.key(), "governance", aggregate.Name, "propose", aggregate.ProposeArgs{
		ID: "auth-test", Participants: []string{a[len("did:polity:"):], b[len("did:polity:"):]}, Threshold: 2, VectorLen: 1, Deadline: 100})
	return "POST", "/v1/aggregate/queries", submitBody(tx)
}

// validAggregateInput: a department's input (auth only, see authOnly).
func validAggregateInput(*testNet, string) (string, string, []byte) {
	return "POST", "/v1/aggregate/queries/auth-test/input", []byte(`{"values":[1]}`)
}
