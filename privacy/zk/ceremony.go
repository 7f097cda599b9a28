package zk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	cs "github.com/consensys/gnark/constraint/bn254"
)

// Setup without a trusted dealer: the multi-party computation of
// Bowe, Gabizon and Miers (https://eprint.iacr.org/2017/1050) as implemented
// by gnark's mpcsetup. Phase 1 ("powers of tau") is shared by every
// predicate; phase 2 is per circuit. Each contributor takes the previous
// state (bytes), mixes in fresh randomness with a proof of knowledge, and
// passes the new state on; the contributors can be on different machines.
// Anyone can verify the whole transcript and derive the keys; they are
// sound if at least one contributor was honest (destroyed their randomness).
// A public random beacon, evaluated after the last contribution (for
// example the hash of a governance-chain block at an announced height),
// seeds a final deterministic step in each phase.
//
// Every state is checked to have the exact length its domain and circuit
// imply, and its length prefixes are checked, before gnark decodes it.

// Beacon bounds, in bytes.
const (
	MinBeaconLen = 16
	MaxBeaconLen = 256
)

// MaxTranscriptLen bounds the number of contributions per phase.
const MaxTranscriptLen = 256

const (
	updateProofSize = g1Size + g2Size // gnark-crypto mpcsetup.UpdateProof
	challengeSize   = 32              // SHA-256 of the previous state
)

// srsCommonsSize is the length of a SrsCommons encoding for domain n.
func srsCommonsSize(n uint64) int {
	return 8 + g2Size + int(2*n-2)*g1Size + int(n-1)*g2Size + int(2*n)*g1Size
}

// phase1Size is the length of a phase-1 state with a challenge of chLen bytes.
func phase1Size(n uint64, chLen int) int {
	return 3*updateProofSize + srsCommonsSize(n) + 1 + chLen
}

// phase2Size is the length of a phase-2 state for a circuit without
// commitments, with k private wires and domain n.
func phase2Size(k int, n uint64, chLen int) int {
	return 2 + g1Size + 4 + k*g1Size + 4 + int(n-1)*g1Size + g2Size + updateProofSize + 1 + chLen
}

func checkBeacon(b []byte) error {
	if len(b) < MinBeaconLen || len(b) > MaxBeaconLen {
		return fmt.Errorf("%w: beacon is %d bytes, want %d..%d", ErrBadInput, len(b), MinBeaconLen, MaxBeaconLen)
	}
	return nil
}

func checkTranscript(t [][]byte) error {
	if len(t) == 0 || len(t) > MaxTranscriptLen {
		return fmt.Errorf("%w: %d contributions, want 1..%d", ErrBadInput, len(t), MaxTranscriptLen)
	}
	return nil
}

// --- phase 1 ---

func decodePhase1(b []byte, n uint64) (*mpcsetup.Phase1, error) {
	if len(b) != phase1Size(n, 0) && len(b) != phase1Size(n, challengeSize) {
		return nil, fmt.Errorf("%w: phase-1 state is %d bytes, want %d", ErrBadInput, len(b), phase1Size(n, challengeSize))
	}
	if got := binary.BigEndian.Uint64(b[3*updateProofSize:]); got != n {
		return nil, fmt.Errorf("%w: phase-1 domain %d, want %d", ErrKeyMismatch, got, n)
	}
	p := new(mpcsetup.Phase1)
	if err := readAll(p, b); err != nil {
		return nil, fmt.Errorf("%w: phase-1 state: %v", ErrBadInput, err)
	}
	return p, nil
}

func marshal(w io.WriterTo) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("zk: encode ceremony state: %w", err)
	}
	return buf.Bytes(), nil
}

// readAll decodes r from b and insists every byte is consumed.
func readAll(r io.ReaderFrom, b []byte) error {
	br := bytes.NewReader(b)
	if _, err := r.ReadFrom(br); err != nil {
		return err
	}
	if br.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", br.Len())
	}
	return nil
}

// Phase1Start returns the state the first phase-1 contributor starts from,
// for CeremonyDomain.
func Phase1Start() ([]byte, error) {
	n, err := CeremonyDomain()
	if err != nil {
		return nil, err
	}
	return phase1Start(n)
}

func phase1Start(n uint64) ([]byte, error) { return marshal(mpcsetup.NewPhase1(n)) }

// Phase1Contribute adds a contribution (fresh randomness from crypto/rand,
// discarded on return) to the previous phase-1 state.
func Phase1Contribute(prev []byte) ([]byte, error) {
	n, err := CeremonyDomain()
	if err != nil {
		return nil, err
	}
	return phase1Contribute(prev, n)
}

func phase1Contribute(prev []byte, n uint64) ([]byte, error) {
	p, err := decodePhase1(prev, n)
	if err != nil {
		return nil, err
	}
	p.Contribute()
	return marshal(p)
}

// SRS is the verified output of phase 1: the circuit-independent part of
// the Groth16 parameters.
type SRS struct {
	n uint64
	c mpcsetup.SrsCommons
}

// Phase1Verify checks every contribution of a phase-1 transcript (in order,
// starting from Phase1Start's state) and seals it with the beacon.
func Phase1Verify(transcript [][]byte, beacon []byte) (*SRS, error) {
	n, err := CeremonyDomain()
	if err != nil {
		return nil, err
	}
	return phase1Verify(transcript, beacon, n)
}

func phase1Verify(transcript [][]byte, beacon []byte, n uint64) (*SRS, error) {
	if err := checkTranscript(transcript); err != nil {
		return nil, err
	}
	if err := checkBeacon(beacon); err != nil {
		return nil, err
	}
	var err error
	states := make([]*mpcsetup.Phase1, len(transcript))
	for i, b := range transcript {
		if states[i], err = decodePhase1(b, n); err != nil {
			return nil, fmt.Errorf("contribution %d: %w", i, err)
		}
	}
	commons, err := mpcsetup.VerifyPhase1(n, beacon, states...)
	if err != nil {
		return nil, fmt.Errorf("%w: phase 1: %v", ErrCeremony, err)
	}
	return &SRS{n: n, c: commons}, nil
}

// MarshalBinary encodes the SRS (gnark's SrsCommons encoding).
func (s *SRS) MarshalBinary() ([]byte, error) { return marshal(&s.c) }

// ParseSRS decodes an SRS for CeremonyDomain. An SRS file is only as good as
// the phase-1 transcript it came from: re-run Phase1Verify to trust it.
func ParseSRS(b []byte) (*SRS, error) {
	n, err := CeremonyDomain()
	if err != nil {
		return nil, err
	}
	if len(b) != srsCommonsSize(n) || binary.BigEndian.Uint64(b) != n {
		return nil, fmt.Errorf("%w: SRS is %d bytes, want %d for domain %d", ErrBadInput, len(b), srsCommonsSize(n), n)
	}
	s := &SRS{n: n}
	if err := readAll(&s.c, b); err != nil {
		return nil, fmt.Errorf("%w: SRS: %v", ErrBadInput, err)
	}
	return s, nil
}

// truncate returns the SRS for a smaller power-of-two domain m: the powers
// of tau are a prefix of the larger ones.
func (s *SRS) truncate(m uint64) (*mpcsetup.SrsCommons, error) {
	if m > s.n || ecc.NextPowerOfTwo(m) != m || m < 2 {
		return nil, fmt.Errorf("%w: circuit domain %d does not fit SRS domain %d", ErrKeyMismatch, m, s.n)
	}
	var c mpcsetup.SrsCommons
	c.G1.Tau = s.c.G1.Tau[:2*m-1]
	c.G1.AlphaTau = s.c.G1.AlphaTau[:m]
	c.G1.BetaTau = s.c.G1.BetaTau[:m]
	c.G2.Tau = s.c.G2.Tau[:m]
	c.G2.Beta = s.c.G2.Beta
	return &c, nil
}

// --- phase 2 ---

func decodePhase2(b []byte, sh *shape) (*mpcsetup.Phase2, error) {
	k := sh.secret + sh.internal
	if len(b) != phase2Size(k, sh.domain, 0) && len(b) != phase2Size(k, sh.domain, challengeSize) {
		return nil, fmt.Errorf("%w: phase-2 state is %d bytes, want %d", ErrBadInput, len(b), phase2Size(k, sh.domain, challengeSize))
	}
	pkkAt := 2 + g1Size
	zAt := pkkAt + 4 + k*g1Size
	if binary.BigEndian.Uint16(b) != 0 ||
		binary.BigEndian.Uint32(b[pkkAt:]) != uint32(k) ||
		binary.BigEndian.Uint32(b[zAt:]) != uint32(sh.domain-1) {
		return nil, fmt.Errorf("%w: phase-2 state does not fit the circuit", ErrKeyMismatch)
	}
	p := new(mpcsetup.Phase2)
	if err := readAll(p, b); err != nil {
		return nil, fmt.Errorf("%w: phase-2 state: %v", ErrBadInput, err)
	}
	return p, nil
}

// phase2Circuit is what phase 2 needs of a circuit.
type phase2Circuit struct {
	ccs *cs.R1CS
	sh  *shape
}

func predicateCircuit(p Predicate) (phase2Circuit, error) {
	ccs, err := p.constraintSystem()
	if err != nil {
		return phase2Circuit{}, err
	}
	sh, err := p.shape()
	if err != nil {
		return phase2Circuit{}, err
	}
	return phase2Circuit{ccs: ccs, sh: sh}, nil
}

// Phase2Start returns the state the first phase-2 contributor for
// predicate p starts from. Deterministic: anyone can recompute it.
func Phase2Start(p Predicate, srs *SRS) ([]byte, error) {
	c, err := predicateCircuit(p)
	if err != nil {
		return nil, err
	}
	return c.start(srs)
}

func (c phase2Circuit) start(srs *SRS) ([]byte, error) {
	commons, err := srs.truncate(c.sh.domain)
	if err != nil {
		return nil, err
	}
	var st mpcsetup.Phase2
	st.Initialize(c.ccs, commons)
	return marshal(&st)
}

// Phase2Contribute adds a contribution to the previous phase-2 state of
// predicate p.
func Phase2Contribute(p Predicate, prev []byte) ([]byte, error) {
	c, err := predicateCircuit(p)
	if err != nil {
		return nil, err
	}
	return c.contribute(prev)
}

func (c phase2Circuit) contribute(prev []byte) ([]byte, error) {
	st, err := decodePhase2(prev, c.sh)
	if err != nil {
		return nil, err
	}
	st.Contribute()
	return marshal(st)
}

// Phase2Finish checks every contribution of predicate p's phase-2
// transcript (in order, starting from Phase2Start's state), seals it with
// the beacon and returns the keys.
func Phase2Finish(p Predicate, srs *SRS, transcript [][]byte, beacon []byte) (*ProvingKey, *VerifyingKey, error) {
	c, err := predicateCircuit(p)
	if err != nil {
		return nil, nil, err
	}
	pk, vk, err := c.finish(srs, transcript, beacon)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	return &ProvingKey{pred: p, pk: pk}, &VerifyingKey{pred: p, vk: vk}, nil
}

func (c phase2Circuit) finish(srs *SRS, transcript [][]byte, beacon []byte) (*groth16bn254.ProvingKey, *groth16bn254.VerifyingKey, error) {
	if err := checkTranscript(transcript); err != nil {
		return nil, nil, err
	}
	if err := checkBeacon(beacon); err != nil {
		return nil, nil, err
	}
	commons, err := srs.truncate(c.sh.domain)
	if err != nil {
		return nil, nil, err
	}
	states := make([]*mpcsetup.Phase2, len(transcript))
	for i, b := range transcript {
		if states[i], err = decodePhase2(b, c.sh); err != nil {
			return nil, nil, fmt.Errorf("contribution %d: %w", i, err)
		}
	}
	pk, vk, err := mpcsetup.VerifyPhase2(c.ccs, commons, beacon, states...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: phase 2: %v", ErrCeremony, err)
	}
	return pk.(*groth16bn254.ProvingKey), vk.(*groth16bn254.VerifyingKey), nil
}

// Keys are one predicate's proving and verifying keys.
type Keys struct {
	Proving   *ProvingKey
	Verifying *VerifyingKey
}

// DevCeremony runs a whole ceremony in one process with the given number
// of contributors per phase, for development and tests. Its keys are only
// as trustworthy as this process: production keys come from contributors on
// separate machines (Phase1Contribute, Phase2Contribute) and a transcript
// everyone can check (Phase1Verify, Phase2Finish).
func DevCeremony(parties int, beacon []byte) (map[Predicate]Keys, error) {
	if parties < 1 || parties > MaxTranscriptLen {
		return nil, fmt.Errorf("%w: %d parties", ErrBadInput, parties)
	}
	state, err := Phase1Start()
	if err != nil {
		return nil, err
	}
	var t1 [][]byte
	for range parties {
		if state, err = Phase1Contribute(state); err != nil {
			return nil, err
		}
		t1 = append(t1, state)
	}
	srs, err := Phase1Verify(t1, beacon)
	if err != nil {
		return nil, err
	}
	keys := make(map[Predicate]Keys, len(Predicates))
	for _, p := range Predicates {
		if state, err = Phase2Start(p, srs); err != nil {
			return nil, err
		}
		var t2 [][]byte
		for range parties {
			if state, err = Phase2Contribute(p, state); err != nil {
				return nil, err
			}
			t2 = append(t2, state)
		}
		pk, vk, err := Phase2Finish(p, srs, t2, beacon)
		if err != nil {
			return nil, err
		}
		keys[p] = Keys{Proving: pk, Verifying: vk}
	}
	return keys, nil
}
