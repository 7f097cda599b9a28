// Package solo is ordering by a single validator, for development chains:
// the validator proposes, certifies with its own signature and delivers.
package solo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
)

// Config for a solo engine.
type Config struct {
	App    consensus.Application
	Suite  crypto.Suite
	Key    crypto.PrivateKey // the one validator's key
	ID     string            // the one validator's ID
	MaxTxs int               // per block
	Clock  func() time.Time
	Logger *slog.Logger
}

// Engine is the solo orderer.
type Engine struct{ cfg Config }

var _ consensus.Engine = (*Engine)(nil)

// New returns a solo engine.
func New(cfg Config) (*Engine, error) {
	if cfg.App == nil || cfg.Suite == nil || cfg.Key == nil || cfg.MaxTxs <= 0 {
		return nil, fmt.Errorf("solo: app, suite, key and a positive MaxTxs are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg}, nil
}

// Run proposes a block whenever transactions are pending. When pending
// transactions cannot go into a block yet (a nonce gap), it waits for more.
func (e *Engine) Run(ctx context.Context) error {
	idle := true
	for {
		wake := e.cfg.App.Wake()
		if idle || !e.cfg.App.Pending() {
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		proposed, err := e.step()
		if err != nil {
			return err
		}
		idle = !proposed
	}
}

func (e *Engine) step() (bool, error) {
	head := e.cfg.App.Head()
	now := uint64(e.cfg.Clock().UnixMilli())
	if now <= head.Time {
		now = head.Time + 1
	}
	b, err := e.cfg.App.Propose(e.cfg.ID, now, e.cfg.MaxTxs)
	if err != nil {
		return false, fmt.Errorf("solo: propose: %w", err)
	}
	if b == nil {
		return false, nil
	}
	msg := chain.CommitMessage(b.Header.ChainID, b.Header.Height, b.Header.Hash(e.cfg.Suite))
	sig, err := e.cfg.Key.Sign(msg)
	if err != nil {
		return false, fmt.Errorf("solo: sign: %w", err)
	}
	b.Commit = chain.Commit{Sigs: []chain.CommitSig{{Index: 0, Sig: sig}}}
	if err := e.cfg.App.Deliver(b); err != nil {
		return false, fmt.Errorf("solo: deliver %d: %w", b.Header.Height, err)
	}
	return true, nil
}
