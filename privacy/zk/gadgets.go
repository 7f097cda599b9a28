package zk

import (
	tedwards "github.com/consensys/gnark-crypto/ecc/twistededwards"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/algebra/native/twistededwards"
	stdhash "github.com/consensys/gnark/std/hash"
	p2perm "github.com/consensys/gnark/std/permutation/poseidon2"
	"github.com/consensys/gnark/std/signature/eddsa"
)

// In-circuit counterparts of hash.go, merkle.go and status.go, shared by
// every predicate circuit.

// credentialVars is the private part every circuit shares: the credential
// opening, the issuer's signature and the status list opening.
type credentialVars struct {
	Attributes  [NumAttributes]frontend.Variable
	Salt        frontend.Variable
	StatusIndex frontend.Variable
	Signature   eddsa.Signature
	StatusWord  frontend.Variable
	StatusPath  [StatusDepth]frontend.Variable
}

// commonPublic is the public part every circuit shares.
type commonPublic struct {
	Issuer     eddsa.PublicKey   `gnark:",public"`
	Holder     frontend.Variable `gnark:",public"`
	StatusList frontend.Variable `gnark:",public"`
	StatusRoot frontend.Variable `gnark:",public"`
	Challenge  frontend.Variable `gnark:",public"`
}

type gadgets struct {
	api  frontend.API
	perm *p2perm.Permutation
}

func newGadgets(api frontend.API) (*gadgets, error) {
	p, err := p2perm.NewPoseidon2(api)
	if err != nil {
		return nil, err
	}
	return &gadgets{api: api, perm: p}, nil
}

// hashN mirrors the native hashN.
func (g *gadgets) hashN(tag uint64, xs ...frontend.Variable) frontend.Variable {
	state := g.perm.Compress(0, tag)
	for _, x := range xs {
		state = g.perm.Compress(state, x)
	}
	return state
}

// merkleRoot mirrors the native merkleRoot; indexBits are little-endian.
func (g *gadgets) merkleRoot(leaf frontend.Variable, indexBits, siblings []frontend.Variable) frontend.Variable {
	cur := leaf
	for l, s := range siblings {
		left := g.api.Select(indexBits[l], s, cur)
		right := g.api.Select(indexBits[l], cur, s)
		cur = g.perm.Compress(left, right)
	}
	return cur
}

// mux returns xs[index] for len(xs) = 2^len(indexBits), little-endian bits.
func (g *gadgets) mux(indexBits, xs []frontend.Variable) frontend.Variable {
	for _, b := range indexBits {
		next := make([]frontend.Variable, len(xs)/2)
		for i := range next {
			next[i] = g.api.Select(b, xs[2*i+1], xs[2*i])
		}
		xs = next
	}
	return xs[0]
}

// uint64Bits range-checks v to [0, 2^64).
func (g *gadgets) uint64Bits(v frontend.Variable) {
	g.api.ToBinary(v, 64)
}

// assertLessOrEqual64 asserts a <= b for a, b already range-checked to 64
// bits: b - a must also fit in 64 bits (if a > b it wraps to about r).
func (g *gadgets) assertLessOrEqual64(a, b frontend.Variable) {
	g.api.ToBinary(g.api.Sub(b, a), 64)
}

// checkCredential enforces, for every predicate: the commitment opened by
// cred and the public holder and status list is signed by the public issuer
// key; the credential's status bit is 0 under the public status root; the
// public challenge is non-zero (which also makes it a constrained input).
func (g *gadgets) checkCredential(cred *credentialVars, pub *commonPublic) error {
	api := g.api
	curve, err := twistededwards.NewEdCurve(api, tedwards.BN254)
	if err != nil {
		return err
	}

	// Commitment, as Credential.Commitment.
	xs := make([]frontend.Variable, 0, NumAttributes+4)
	xs = append(xs, cred.Attributes[:]...)
	xs = append(xs, pub.Holder, pub.StatusList, cred.StatusIndex, cred.Salt)
	commitment := g.hashN(tagCommitment, xs...)

	// Issuer signature over the commitment. eddsa.Verify checks S < order
	// and [8]([S]B - [H(R,A,M)]A - R) = 0; we also pin A and R to the curve.
	curve.AssertIsOnCurve(pub.Issuer.A)
	curve.AssertIsOnCurve(cred.Signature.R)
	hasher, err := newCircuitHasher(api)
	if err != nil {
		return err
	}
	if err := eddsa.Verify(curve, cred.Signature, commitment, pub.Issuer, hasher); err != nil {
		return err
	}

	// Non-revocation: index = word*128 + bit, index < StatusCapacity.
	idxBits := api.ToBinary(cred.StatusIndex, statusBitBits+StatusDepth)
	wordBits := api.ToBinary(cred.StatusWord, StatusWordBits) // little-endian
	msbFirst := make([]frontend.Variable, StatusWordBits)     // list order: bit i = integer bit 127-i
	for i := range msbFirst {
		msbFirst[i] = wordBits[StatusWordBits-1-i]
	}
	api.AssertIsEqual(g.mux(idxBits[:statusBitBits], msbFirst), 0)
	leaf := g.hashN(tagStatusLeaf, cred.StatusWord)
	root := g.merkleRoot(leaf, idxBits[statusBitBits:], cred.StatusPath[:])
	api.AssertIsEqual(root, pub.StatusRoot)

	// Challenge: binds the proof; zero is not a valid challenge.
	api.AssertIsDifferent(pub.Challenge, 0)
	return nil
}

// attribute returns Attributes[index] for a public index below
// NumAttributes, range-checked to 64 bits.
func (g *gadgets) attribute(cred *credentialVars, index frontend.Variable) frontend.Variable {
	bits := g.api.ToBinary(index, 3) // NumAttributes = 8
	v := g.mux(bits, cred.Attributes[:])
	g.uint64Bits(v)
	return v
}

func newCircuitHasher(api frontend.API) (stdhash.FieldHasher, error) {
	p, err := p2perm.NewPoseidon2(api)
	if err != nil {
		return nil, err
	}
	return stdhash.NewMerkleDamgardHasher(api, p, 0), nil
}
