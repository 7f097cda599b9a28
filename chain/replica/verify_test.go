package replica_test

import (
	"bytes"
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

// TestTxReceiptAsProof: the receipt a batch waiter is told is the one in
// the transaction's proof, fresh from delivery and read back after a
// restart (nothing cached).
func TestTxReceiptAsProof(t *testing.T) {
	c := newCluster(t, 4)
	b := c.step(c.tx("v1", "propose", map[string]any{"op": "remove", "id": "v4"}), c.tx("v1", "propose", map[string]any{"op": "remove", "id": "v3"}))
	id := b.Txs[1].ID(suite)
	for _, restart := range []bool{false, true} {
		if restart {
			c.r.Close()
			c.open()
		}
		h, i, rc, err := c.r.TxReceipt(id)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.r.TxProof(id)
		if err != nil {
			t.Fatal(err)
		}
		if h != b.Header.Height || i != 1 || p.Height != h || p.Index != i || !bytes.Equal(rc.Encode(), p.Bundle.Receipt.Encode()) {
			t.Fatalf("restart %v: receipt at %d/%d %+v, proof at %d/%d %+v", restart, h, i, rc, p.Height, p.Index, p.Bundle.Receipt)
		}
	}
}
