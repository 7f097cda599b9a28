// Package consensus is the ordering layer's contract. An Engine agrees with
// other validators on a sequence of blocks; the Application it drives builds,
// checks and applies them. Engines: solo (one validator), and BFT and Raft
// engines behind the same interfaces.
package consensus

import (
	"context"
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// Application is what an engine needs from the chain. Calls come from the
// engine's goroutine(s); implementations are safe for concurrent use.
type Application interface {
	// Head returns the latest committed header.
	Head() chain.Header
	// NextValidators returns the validator set certifying the block after
	// the head, and its hash. It changes only when Deliver commits a block
	// that changes it (the valset module), from the next height on.
	NextValidators() (*chain.ValidatorSet, crypto.Hash)
	// Propose builds an uncertified block on the head with up to max pending
	// transactions, naming proposer (a validator ID) and stamped with time
	// (Unix ms, > the head's). It returns nil when there is nothing to propose.
	Propose(proposer string, time uint64, max int) (*chain.Block, error)
	// Verify checks that an uncertified block from a proposer is valid on the
	// head: well formed, correctly signed transactions, and the header's roots
	// match re-execution.
	Verify(b *chain.Block) error
	// Deliver commits a certified block durably. It is called once per
	// height, in order.
	Deliver(b *chain.Block) error
	// Pending reports whether transactions are waiting, and Wake returns a
	// channel that is closed when new ones arrive after the call.
	Pending() bool
	Wake() <-chan struct{}
}

// Network carries one chain's messages between the validators of its
// validator set, addressed by node number (validator index + 1). Send must
// not block: when a peer is slow or unreachable the message may be dropped
// (engines retransmit or re-sync what matters). Messages are at most
// MaxMessageSize bytes. The transport authenticates every inbound message's
// sender and hands it to the engine's Receive(from, msg).
type Network interface {
	Send(to uint64, msg []byte)
}

// Receiver takes authenticated inbound messages for one chain.
type Receiver interface {
	Receive(from uint64, msg []byte)
}

// MaxMessageSize bounds one engine message (a sync response of blocks).
const MaxMessageSize = 16 << 20

// Engine orders blocks until ctx is cancelled.
type Engine interface {
	Run(ctx context.Context) error
}

// BehindError is returned by an engine's Run when it cannot go on because
// the ledger lacks blocks its peers committed (a Raft log that starts past
// the ledger's head): the caller fetches blocks up to Height by sync and
// starts an engine again.
type BehindError struct {
	Height uint64 // the ledger needs every block up to this height
	Head   uint64 // the ledger's head when the engine stopped
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("consensus: the ledger is at %d and needs blocks up to %d", e.Head, e.Height)
}
