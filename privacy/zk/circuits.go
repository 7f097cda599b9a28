package zk

import (
	"github.com/consensys/gnark/frontend"
)

// The three statements, one Groth16 circuit each. Every circuit proves
// knowledge of a credential signed by the public issuer key, bound to the
// public holder, not revoked under the public status root, bound to the
// public challenge (gadgets.checkCredential), and its own predicate.

// ageCircuit: Attributes[AttrBirthDate] <= Cutoff (a DateValue), i.e. the
// holder was born on or before the cutoff date.
type ageCircuit struct {
	Cred   credentialVars
	Pub    commonPublic
	Cutoff frontend.Variable `gnark:",public"`
}

func (c *ageCircuit) Define(api frontend.API) error {
	g, err := newGadgets(api)
	if err != nil {
		return err
	}
	if err := g.checkCredential(&c.Cred, &c.Pub); err != nil {
		return err
	}
	birth := c.Cred.Attributes[AttrBirthDate]
	g.uint64Bits(birth)
	g.uint64Bits(c.Cutoff)
	g.assertLessOrEqual64(birth, c.Cutoff)
	return nil
}

// setCircuit: Attributes[AttrIndex] is a leaf of the set tree with root SetRoot.
type setCircuit struct {
	Cred      credentialVars
	Pub       commonPublic
	AttrIndex frontend.Variable `gnark:",public"`
	SetRoot   frontend.Variable `gnark:",public"`
	SetIndex  frontend.Variable
	SetPath   [SetDepth]frontend.Variable
}

func (c *setCircuit) Define(api frontend.API) error {
	g, err := newGadgets(api)
	if err != nil {
		return err
	}
	if err := g.checkCredential(&c.Cred, &c.Pub); err != nil {
		return err
	}
	v := g.attribute(&c.Cred, c.AttrIndex)
	leaf := g.hashN(tagSetLeaf, v)
	root := g.merkleRoot(leaf, api.ToBinary(c.SetIndex, SetDepth), c.SetPath[:])
	api.AssertIsEqual(root, c.SetRoot)
	return nil
}

// rangeCircuit: Min <= Attributes[AttrIndex] <= Max.
type rangeCircuit struct {
	Cred      credentialVars
	Pub       commonPublic
	AttrIndex frontend.Variable `gnark:",public"`
	Min       frontend.Variable `gnark:",public"`
	Max       frontend.Variable `gnark:",public"`
}

func (c *rangeCircuit) Define(api frontend.API) error {
	g, err := newGadgets(api)
	if err != nil {
		return err
	}
	if err := g.checkCredential(&c.Cred, &c.Pub); err != nil {
		return err
	}
	v := g.attribute(&c.Cred, c.AttrIndex)
	g.uint64Bits(c.Min)
	g.uint64Bits(c.Max)
	g.assertLessOrEqual64(c.Min, v)
	g.assertLessOrEqual64(v, c.Max)
	return nil
}
