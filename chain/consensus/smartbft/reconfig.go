package smartbft

import (
	"fmt"

	"github.com/polityledger/polity/chain"
)

// ownSet checks that a proposal is certified by the set this engine runs.
// An engine runs one validator set; when a block changes the set, the
// engine is replaced by one for the new set (chain/consensus/member) and
// must not vote on the next height meanwhile: its signatures would carry
// the old set's indices.
func (e *Engine) ownSet(h *chain.Header) error {
	if want := e.cfg.Validators.Hash(e.cfg.Suite); h.ValidatorsHash != want {
		return fmt.Errorf("proposal names validator set %s, this engine runs %s", h.ValidatorsHash, want)
	}
	return nil
}
