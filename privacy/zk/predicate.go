package zk

import (
	"fmt"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/constraint"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

// Predicate names a statement (and its circuit).
type Predicate uint8

// The predicates.
const (
	// AgeAtLeast: the birth date attribute is on or before a cutoff date.
	AgeAtLeast Predicate = 1 + iota
	// InSet: an attribute is a member of a set (Merkle root public).
	InSet
	// InRange: an attribute lies in [Min, Max].
	InRange
)

// Predicates lists every predicate, in order.
var Predicates = []Predicate{AgeAtLeast, InSet, InRange}

// String returns the predicate's name as used in files and the CLI.
func (p Predicate) String() string {
	switch p {
	case AgeAtLeast:
		return "age-at-least"
	case InSet:
		return "in-set"
	case InRange:
		return "in-range"
	}
	return fmt.Sprintf("predicate(%d)", uint8(p))
}

// ParsePredicate is the inverse of String.
func ParsePredicate(s string) (Predicate, error) {
	for _, p := range Predicates {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown predicate %q", ErrBadInput, s)
}

func (p Predicate) valid() bool { return p >= AgeAtLeast && p <= InRange }

// circuit returns an empty circuit definition for p.
func (p Predicate) circuit() frontend.Circuit {
	switch p {
	case AgeAtLeast:
		return &ageCircuit{}
	case InSet:
		return &setCircuit{}
	case InRange:
		return &rangeCircuit{}
	}
	panic("zk: invalid predicate") // callers check valid()
}

type compiled struct {
	ccs *cs.R1CS
	err error
}

var compileCache [InRange + 1]sync.Once
var compiledCircuits [InRange + 1]compiled

// constraintSystem compiles p's circuit once per process (deterministic:
// the same circuit code always yields the same R1CS).
func (p Predicate) constraintSystem() (*cs.R1CS, error) {
	if !p.valid() {
		return nil, fmt.Errorf("%w: predicate %d", ErrBadInput, uint8(p))
	}
	compileCache[p].Do(func() {
		var ccs constraint.ConstraintSystem
		ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, p.circuit())
		if err != nil {
			compiledCircuits[p].err = fmt.Errorf("zk: compile %s: %w", p, err)
			return
		}
		compiledCircuits[p].ccs = ccs.(*cs.R1CS)
	})
	return compiledCircuits[p].ccs, compiledCircuits[p].err
}

// Constraints returns the number of R1CS constraints of p's circuit.
func (p Predicate) Constraints() (int, error) {
	ccs, err := p.constraintSystem()
	if err != nil {
		return 0, err
	}
	return ccs.GetNbConstraints(), nil
}
