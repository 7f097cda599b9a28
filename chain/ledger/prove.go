package ledger

import (
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/smt"
)

// StateProof proves a state key's value (or absence) at a height.
type StateProof struct {
	Header    *chain.Header
	Commit    *chain.Commit
	Key       []byte
	ValueHash *crypto.Hash // nil: the key is absent
	Proof     *smt.Proof
}

// ProveState proves key against the state root of the header at height.
func (l *Ledger) ProveState(key []byte, height uint64) (*StateProof, error) {
	if head := l.Height(); height+l.keep < head {
		return nil, fmt.Errorf("%w: %d is more than %d below the head %d", ErrPruned, height, l.keep, head)
	}
	hdr, c, err := l.Header(height)
	if err != nil {
		return nil, err
	}
	p, vh, err := l.tree.ProveValue(hdr.StateRoot, chain.StateKeyHash(l.suite, key))
	if err != nil {
		return nil, fmt.Errorf("state proof at %d: %w", height, err)
	}
	return &StateProof{Header: hdr, Commit: c, Key: key, ValueHash: vh, Proof: p}, nil
}
