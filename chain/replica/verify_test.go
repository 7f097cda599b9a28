package replica_test

import (
	"errors"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/replica"
)

// TestVerifyOwnProposal: a block this replica built verifies (without being
// executed again), and the same header with other transactions does not:
// the shortcut holds only for the transactions the header names.
func TestVerifyOwnProposal(t *testing.T) {
	c := newCluster(t, 4)
	propose := func(id string) *chain.Tx {
		return c.tx("v1", "propose", map[string]any{"op": "remove", "id": id})
	}
	head := c.r.Head()
	b, err := c.r.Build("v1", head.Time+1, []*chain.Tx{propose("v4")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.r.Verify(b); err != nil {
		t.Fatalf("own proposal refused: %v", err)
	}
	swapped := *b
	swapped.Txs = []*chain.Tx{propose("v3")}
	if err := c.r.Verify(&swapped); !errors.Is(err, replica.ErrBadProposal) {
		t.Fatalf("own header with other transactions: %v, want ErrBadProposal", err)
	}
	if err := c.r.Verify(b); err != nil {
		t.Fatalf("own proposal refused the second time: %v", err)
	}
}
