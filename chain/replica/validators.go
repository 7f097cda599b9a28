package replica

import (
	"bytes"
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/valset"
)

// NextValidators returns the validator set certifying the block after the
// head, and its hash. The valset module changes it; a change committed at
// height N applies from N+1.
func (r *Replica) NextValidators() (*chain.ValidatorSet, crypto.Hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.next, r.mu.nextHash
}

// ValidatorChanges returns the validator set changes decided below height
// before, with their proofs.
func (r *Replica) ValidatorChanges(before uint64) ([]ledger.Change, error) {
	return r.led.Changes(before)
}

func (r *Replica) loadNext() error {
	vs, err := valset.Current(r.led.Get, &r.g.Validators)
	if err != nil {
		return fmt.Errorf("validator set in state: %w", err)
	}
	if err := vs.Validate(r.suite); err != nil {
		return err
	}
	r.setNext(vs)
	return nil
}

func (r *Replica) setNext(vs *chain.ValidatorSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.next, r.mu.nextHash = vs, vs.Hash(r.suite)
}

// changedValidators returns the new set when writes (sorted by key) change
// the validator set in state.
func (r *Replica) changedValidators(writes []exec.Write) (*ledger.NextValidators, error) {
	key := valset.Key()
	for _, w := range writes {
		if !bytes.Equal(w.Key, key) {
			continue
		}
		if w.Value == nil {
			return nil, fmt.Errorf("validator set deleted from state")
		}
		vs, err := chain.DecodeValidatorSet(w.Value)
		if err != nil {
			return nil, err
		}
		if err := vs.Validate(r.suite); err != nil {
			return nil, err
		}
		if _, cur := r.NextValidators(); vs.Hash(r.suite) == cur {
			return nil, nil
		}
		return &ledger.NextValidators{Set: vs, Key: key}, nil
	}
	return nil, nil
}
