package zk

import (
	"fmt"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// InsecureSetup makes keys for predicate p with gnark's single-party
// Groth16 setup (groth16.Setup). It is fast (seconds), but the process that
// runs it samples the setup randomness ("toxic waste") and could keep it:
// whoever knows it can forge a proof of any statement. Use it for
// development and tests only; production keys come from the ceremony
// (Phase1Start ... Phase2Finish, or DevCeremony for a local rehearsal).
func InsecureSetup(p Predicate) (*ProvingKey, *VerifyingKey, error) {
	ccs, err := p.constraintSystem()
	if err != nil {
		return nil, nil, err
	}
	pk := new(groth16bn254.ProvingKey)
	vk := new(groth16bn254.VerifyingKey)
	if err := groth16bn254.Setup(ccs, pk, vk); err != nil {
		return nil, nil, fmt.Errorf("zk: insecure setup of %s: %w", p, err)
	}
	return &ProvingKey{pred: p, pk: pk}, &VerifyingKey{pred: p, vk: vk}, nil
}
