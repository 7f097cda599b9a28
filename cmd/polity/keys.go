package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/chain/crypto/suites"
)

func runKeysNew(args []string, stdout io.Writer) error {
	fs := newFlags("keys new")
	out := fs.String("out", "polity-key.json", "key file to create (never overwritten)")
	suite := fs.String("suite", suites.Default.Name(), "crypto suite: "+strings.Join(suites.Names(), ", "))
	if err := parse(fs, args); err != nil {
		return err
	}
	s, err := suites.ByName(*suite)
	if err != nil {
		return usageError{err}
	}
	k, err := s.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := keyfile.Save(*out, s, k); err != nil {
		return err
	}
	pub := k.Public().Bytes()
	fmt.Fprintf(stdout, "wrote %s\nsuite:   %s\naddress: %s\nsender:  %s\n", *out, s.Name(), chain.AddressOf(s, pub), chain.KeyDID(s, pub))
	return nil
}

func runKeysShow(args []string, stdout io.Writer) error {
	fs := newFlags("keys show")
	path := fs.String("key", "polity-key.json", "key file")
	if err := parse(fs, args); err != nil {
		return err
	}
	s, k, err := keyfile.Load(*path)
	if err != nil {
		return err
	}
	pub := k.Public().Bytes()
	fmt.Fprintf(stdout, "suite:      %s\npublic key: %s\naddress:    %s\nsender:     %s\n", s.Name(), hex.EncodeToString(pub), chain.AddressOf(s, pub), chain.KeyDID(s, pub))
	return nil
}
