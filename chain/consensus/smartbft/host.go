package smartbft

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/hyperledger-labs/SmartBFT/pkg/api"
	"github.com/hyperledger-labs/SmartBFT/pkg/types"
	protos "github.com/hyperledger-labs/SmartBFT/smartbftprotos"
	"google.golang.org/protobuf/proto"

	"github.com/polityledger/polity/chain"
)

// host implements SmartBFT's host interfaces for one SmartBFT instance of an
// engine; once the instance is abandoned (gate) it sends and delivers nothing.
type host struct {
	e    *Engine
	gate *instanceGate
}

var (
	_ api.Application        = (*host)(nil)
	_ api.Assembler          = (*host)(nil)
	_ api.Comm               = (*host)(nil)
	_ api.Signer             = (*host)(nil)
	_ api.Verifier           = (*host)(nil)
	_ api.MembershipNotifier = (*host)(nil)
	_ api.RequestInspector   = (*host)(nil)
)

// --- Comm ---

func (h *host) SendConsensus(to uint64, m *protos.Message) {
	if h.gate.gone.Load() {
		return
	}
	b, err := proto.Marshal(m)
	if err != nil {
		h.e.log.Error("marshal consensus message", "err", err)
		return
	}
	h.e.cfg.Net.Send(to, append([]byte{kindConsensus}, b...))
}

func (h *host) SendTransaction(to uint64, req []byte) {
	if h.gate.gone.Load() {
		return
	}
	h.e.cfg.Net.Send(to, append([]byte{kindRequest}, req...))
}

func (h *host) Nodes() []uint64 { return append([]uint64(nil), h.e.nodes...) }

// --- RequestInspector ---

// RequestID identifies a request by its tx ID, the client by sender address.
// Undecodable bytes get an ID from their hash so the pool can still track
// (and reject) them.
func (h *host) RequestID(req []byte) types.RequestInfo {
	info, err := h.e.dec.info(req)
	if err != nil {
		return types.RequestInfo{ClientID: "invalid", ID: h.e.cfg.Suite.Hash(req).String()}
	}
	return info
}

func (h *host) info(tx *chain.Tx) types.RequestInfo { return requestInfo(h.e.cfg.Suite, tx) }

// --- Assembler ---

// AssembleProposal builds the next block from the pool's requests: each
// sender's transactions in nonce order, senders in order of first arrival;
// transactions invalid on the head are dropped by execution and pruned from
// the pool once the block is delivered.
func (h *host) AssembleProposal(metadata []byte, requests [][]byte) types.Proposal {
	if err := h.e.settle(); err != nil {
		// The engine is stopping; followers refuse a proposal that does not
		// extend their head.
		return types.Proposal{Metadata: metadata}
	}
	txs := orderByNonce(h.e.cfg.Suite, h.e.decodeRequests(h.e.batch(requests)))
	head := h.e.cfg.App.Head()
	now := uint64(h.e.cfg.Clock().UnixMilli())
	if now <= head.Time {
		now = head.Time + 1
	}
	b, err := h.e.cfg.App.Build(h.e.cfg.SelfID, now, txs)
	h.e.emptyProposal.Store(err == nil && len(b.Txs) == 0 && len(txs) > 0)
	if err != nil {
		// Followers will refuse whatever we send; an empty block keeps the
		// protocol moving while the error is reported.
		h.e.log.Error("assemble proposal", "err", err)
		b, err = h.e.cfg.App.Build(h.e.cfg.SelfID, now, nil)
		if err != nil {
			h.e.fail(fmt.Errorf("smartbft: cannot build even an empty block: %w", err))
			return types.Proposal{Metadata: metadata}
		}
	}
	return types.Proposal{Header: b.Header.Encode(), Payload: encodeTxs(b.Txs), Metadata: metadata}
}

// batch returns the requests to propose: SmartBFT's batch, or when the
// batcher stopped at BatchReadyCount, up to BatchMaxCount of the pool's
// requests in arrival order (a superset, unless some were pruned meanwhile,
// and any pooled requests make a valid proposal).
//
// When this leader's last proposal came out empty although the pool was
// ready (every pooled transaction waits for an earlier nonce), it first
// waits BatchMaxInterval, as SmartBFT's batcher would: otherwise empty
// blocks would follow each other as fast as consensus runs.
func (e *Engine) batch(requests [][]byte) [][]byte {
	if uint64(len(requests)) < e.readyCount() || e.readyCount() == e.cfg.BatchMaxCount {
		return requests
	}
	if e.emptyProposal.Load() {
		time.Sleep(e.cfg.BatchMaxInterval)
	}
	c := e.consensus()
	if c == nil || c.Pool == nil {
		return requests
	}
	if all, _ := c.Pool.NextRequests(int(e.cfg.BatchMaxCount), batchMaxBytes, false); len(all) > len(requests) {
		return all
	}
	return requests
}

func (e *Engine) decodeRequests(reqs [][]byte) []*chain.Tx {
	txs := make([]*chain.Tx, 0, len(reqs))
	for _, r := range reqs {
		if tx, err := e.dec.tx(r); err == nil {
			txs = append(txs, tx)
		}
	}
	return txs
}

// --- Verifier ---

// VerifyProposal checks the header names the current leader, its time is not
// too far ahead, and that re-executing the transactions gives its roots. It
// first waits for the last decided block to commit (pipeline).
func (h *host) VerifyProposal(p types.Proposal) ([]types.RequestInfo, error) {
	if err := h.e.settle(); err != nil {
		return nil, err
	}
	b, err := h.e.blockOf(p)
	if err != nil {
		return nil, err
	}
	if err := h.e.ownSet(&b.Header); err != nil {
		return nil, err
	}
	if c := h.e.consensus(); c != nil {
		if lead := c.GetLeaderID(); lead != 0 && b.Header.Proposer != h.e.cfg.Validators.Validators[lead-1].ID {
			return nil, fmt.Errorf("proposer %q is not the leader", b.Header.Proposer)
		}
	}
	if limit := uint64(h.e.cfg.Clock().Add(h.e.cfg.MaxClockSkew).UnixMilli()); b.Header.Time > limit {
		return nil, fmt.Errorf("proposal time %d is ahead of local clock", b.Header.Time)
	}
	if err := h.e.cfg.App.Verify(b); err != nil {
		return nil, err
	}
	infos := make([]types.RequestInfo, len(b.Txs))
	for i, tx := range b.Txs {
		infos[i] = h.info(tx)
	}
	return infos, nil
}

func (h *host) VerifyRequest(raw []byte) (types.RequestInfo, error) {
	tx, err := h.e.dec.tx(raw)
	if err != nil {
		return types.RequestInfo{}, err
	}
	if tx.ChainID != h.e.cfg.ChainID {
		return types.RequestInfo{}, errors.New("request for another chain")
	}
	if err := tx.Verify(h.e.cfg.Suite); err != nil {
		return types.RequestInfo{}, err
	}
	return h.info(tx), nil
}

func (h *host) headerOf(p types.Proposal) (*chain.Header, error) {
	hdr, err := chain.DecodeHeader(p.Header)
	if err != nil {
		return nil, err
	}
	if hdr.ChainID != h.e.cfg.ChainID {
		return nil, errors.New("proposal for another chain")
	}
	return hdr, nil
}

// VerifyConsenterSig checks a commit signature: the validator's signature
// over the header with its aux data (our certificate format).
func (h *host) VerifyConsenterSig(sig types.Signature, p types.Proposal) ([]byte, error) {
	hdr, err := h.headerOf(p)
	if err != nil {
		return nil, err
	}
	pk, err := h.validatorKey(sig.ID)
	if err != nil {
		return nil, err
	}
	if len(sig.Msg) > chain.MaxCommitAux || !pk.Verify(chain.SignedMessage(hdr.ChainID, hdr.Height, hdr.Hash(h.e.cfg.Suite), sig.Msg), sig.Value) {
		return nil, fmt.Errorf("commit signature of node %d does not verify", sig.ID)
	}
	return sig.Msg, nil
}

var msgDomain = []byte("polity/bft-message/v1\x00")

func (h *host) msgToSign(data []byte) []byte {
	out := append([]byte(nil), msgDomain...)
	out = append(out, h.e.cfg.ChainID...)
	out = append(out, 0)
	return append(out, data...)
}

// VerifySignature checks a signature made by Sign (view-change messages).
func (h *host) VerifySignature(sig types.Signature) error {
	pk, err := h.validatorKey(sig.ID)
	if err != nil {
		return err
	}
	if !pk.Verify(h.msgToSign(sig.Msg), sig.Value) {
		return fmt.Errorf("signature of node %d does not verify", sig.ID)
	}
	return nil
}

func (h *host) validatorKey(id uint64) (interface{ Verify(msg, sig []byte) bool }, error) {
	if id == 0 || id > uint64(len(h.e.cfg.Validators.Validators)) {
		return nil, fmt.Errorf("unknown node %d", id)
	}
	return h.e.cfg.Suite.PublicKey(h.e.cfg.Validators.Validators[id-1].PubKey)
}

// VerificationSequence changes when the validator set does; sets are fixed
// per genesis for now.
func (h *host) VerificationSequence() uint64 { return 0 }

func (h *host) RequestsFromProposal(p types.Proposal) []types.RequestInfo {
	txs, err := h.e.decodeTxs(p.Payload)
	if err != nil {
		return nil
	}
	infos := make([]types.RequestInfo, len(txs))
	for i, tx := range txs {
		infos[i] = h.info(tx)
	}
	return infos
}

func (h *host) AuxiliaryData(msg []byte) []byte { return msg }

// --- Signer ---

func (h *host) Sign(data []byte) []byte {
	sig, err := h.e.cfg.Key.Sign(h.msgToSign(data))
	if err != nil {
		h.e.fail(fmt.Errorf("smartbft: sign: %w", err))
	}
	return sig
}

// SignProposal signs the proposal's header as a certificate signature; aux
// (SmartBFT's "prepares from" list) is signed with it and travels as Msg.
func (h *host) SignProposal(p types.Proposal, aux []byte) *types.Signature {
	hdr, err := h.headerOf(p)
	if err != nil {
		h.e.log.Error("sign proposal", "err", err)
		return &types.Signature{ID: h.e.self}
	}
	sig, err := h.e.cfg.Key.Sign(chain.SignedMessage(hdr.ChainID, hdr.Height, hdr.Hash(h.e.cfg.Suite), aux))
	if err != nil {
		h.e.fail(fmt.Errorf("smartbft: sign proposal: %w", err))
	}
	return &types.Signature{ID: h.e.self, Value: sig, Msg: aux}
}

// --- MembershipNotifier ---

func (h *host) MembershipChange() bool { return false }

// --- Application ---

// Deliver hands a decided block with its certificate to the pipeline, which
// commits it while SmartBFT goes on to the next batch. A block that cannot be
// committed stops the engine: the ledger must never skip a decision.
func (h *host) Deliver(p types.Proposal, sigs []types.Signature) types.Reconfig {
	if h.gate.gone.Load() {
		return types.Reconfig{}
	}
	b, err := h.e.blockOf(p)
	if err != nil {
		h.e.fail(fmt.Errorf("smartbft: decided block undecodable: %w", err))
		return types.Reconfig{}
	}
	b.Commit = certificate(p.Metadata, sigs)
	h.e.commitAsync(b)
	return types.Reconfig{}
}

// deliver commits b unless the ledger already holds it (after a sync).
// SmartBFT's decisions and our synchroniser both deliver; one at a time.
func (e *Engine) deliver(b *chain.Block) error {
	e.deliverMu.Lock()
	defer e.deliverMu.Unlock()
	head := e.cfg.App.Head()
	if b.Header.Height <= head.Height {
		have, err := e.cfg.App.Block(b.Header.Height)
		if err != nil {
			return err
		}
		if have.Header.Hash(e.cfg.Suite) != b.Header.Hash(e.cfg.Suite) {
			return fmt.Errorf("decided block %d differs from the committed one", b.Header.Height)
		}
		return nil
	}
	if err := e.cfg.App.Deliver(b); err != nil {
		return err
	}
	e.prune()
	if c := e.consensus(); c != nil {
		for _, raw := range e.gaps.committedBlock(b.Txs) {
			e.forward(c, raw)
			_ = e.toPool(c, [][]byte{raw}, nil)
		}
	}
	return nil
}

// prune drops requests from SmartBFT's pool that can never be included (a
// used nonce, expired), so no validator complains about the leader for them.
func (e *Engine) prune() {
	c := e.consensus()
	if c == nil || c.Pool == nil {
		return
	}
	c.Pool.Prune(func(req []byte) error {
		tx, err := e.dec.tx(req)
		if err != nil || e.cfg.App.Stale(tx) {
			return errors.New("stale")
		}
		return nil
	})
}

func certificate(meta []byte, sigs []types.Signature) chain.Commit {
	c := chain.Commit{Meta: meta}
	for _, s := range sigs {
		if s.ID == 0 {
			continue
		}
		c.Sigs = append(c.Sigs, chain.CommitSig{Index: uint32(s.ID - 1), Sig: s.Value, Aux: s.Msg})
	}
	sort.Slice(c.Sigs, func(i, j int) bool { return c.Sigs[i].Index < c.Sigs[j].Index })
	out := c.Sigs[:0]
	for i, s := range c.Sigs {
		if i == 0 || s.Index != c.Sigs[i-1].Index {
			out = append(out, s)
		}
	}
	c.Sigs = out
	return c
}

func (e *Engine) blockOf(p types.Proposal) (*chain.Block, error) {
	hdr, err := chain.DecodeHeader(p.Header)
	if err != nil {
		return nil, err
	}
	txs, err := e.decodeTxs(p.Payload)
	if err != nil {
		return nil, err
	}
	if uint64(len(txs)) != hdr.TxCount {
		return nil, fmt.Errorf("%d transactions, header says %d", len(txs), hdr.TxCount)
	}
	return &chain.Block{Header: *hdr, Txs: txs}, nil
}

// zlog adapts slog to SmartBFT's logger. SmartBFT's Info level is chatty
// (per-decision lines), so it maps to Debug.
type zlog struct{ l *slog.Logger }

func (z zlog) Debugf(string, ...any)     {}
func (z zlog) Infof(f string, a ...any)  { z.l.Debug(fmt.Sprintf(f, a...)) }
func (z zlog) Warnf(f string, a ...any)  { z.l.Warn(fmt.Sprintf(f, a...)) }
func (z zlog) Errorf(f string, a ...any) { z.l.Error(fmt.Sprintf(f, a...)) }
func (z zlog) Panicf(f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	z.l.Error(msg)
	panic(msg)
}
