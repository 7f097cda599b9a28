package vc

import (
	"errors"
	"fmt"
	"strings"
)

// Bounds on identifiers.
const (
	maxDIDLen = 256
	maxURLLen = 512
)

// checkDID accepts a DID as in DID Core section 3.1: "did:" method-name ":"
// method-specific-id, with method-name in [a-z0-9] and the id in the ASCII
// idchar set (ALPHA / DIGIT / "." / "-" / "_" / ":" / pct-encoded).
func checkDID(s string) error {
	if len(s) > maxDIDLen {
		return fmt.Errorf("DID longer than %d bytes", maxDIDLen)
	}
	rest, ok := strings.CutPrefix(s, "did:")
	if !ok {
		return errors.New("not a DID")
	}
	method, id, ok := strings.Cut(rest, ":")
	if !ok || method == "" || id == "" || strings.HasSuffix(id, ":") {
		return errors.New("DID needs a method and a method-specific id")
	}
	for _, c := range []byte(method) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return errors.New("bad character in DID method")
		}
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_:%", c) >= 0) {
			return fmt.Errorf("bad character %q in DID", c)
		}
	}
	return nil
}

// checkDIDURL accepts DID "#" fragment, the form of a verification method ID.
func checkDIDURL(s string) error {
	did, frag, ok := strings.Cut(s, "#")
	if !ok || frag == "" {
		return errors.New("verification method must be a DID URL with a fragment")
	}
	if err := checkDID(did); err != nil {
		return err
	}
	for _, c := range []byte(frag) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_", c) >= 0) {
			return fmt.Errorf("bad character %q in DID URL fragment", c)
		}
	}
	return nil
}

// controllerOf returns the DID part of a DID URL.
func controllerOf(kid string) string {
	did, _, _ := strings.Cut(kid, "#")
	return did
}
