// Package suites maps the suite names written in genesis files to
// implementations.
package suites

import (
	"fmt"
	"slices"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

// Default is the default suite, ed25519-sha256.
var Default crypto.Suite = ed25519sha256.New()

var byName = map[string]crypto.Suite{
	ed25519sha256.Name: ed25519sha256.New(),
	sm2sm3.Name:        sm2sm3.New(),
}

// ByName returns the suite with the given name, or an error wrapping
// crypto.ErrUnknownSuite. Names are case-sensitive.
func ByName(name string) (crypto.Suite, error) {
	if s, ok := byName[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w %q", crypto.ErrUnknownSuite, name)
}

// Names returns the known suite names, sorted.
func Names() []string {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
