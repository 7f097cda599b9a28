package chainview

import (
	"errors"

	"github.com/polityledger/polity/identity/vc"
)

// Stable reasons a verification fails with, one per vc sentinel error. The
// API returns them as "reason" and the CLI prints them; clients may switch
// on them.
const (
	ReasonMalformed         = "malformed"
	ReasonBadSignature      = "bad_signature"
	ReasonUnknownKey        = "unknown_key"
	ReasonUntrustedIssuer   = "untrusted_issuer"
	ReasonRevoked           = "revoked"
	ReasonSuspended         = "suspended"
	ReasonExpired           = "expired"
	ReasonNotYetValid       = "not_yet_valid"
	ReasonChallenge         = "challenge_mismatch"
	ReasonHolder            = "holder_mismatch"
	ReasonStatusUnavailable = "status_unavailable"
	ReasonBundle            = "bundle_invalid"
	ReasonError             = "error" // the answer could not be established
)

var reasons = []struct {
	err    error
	reason string
}{
	// Most specific first: a presentation failure may wrap a credential's.
	{vc.ErrRevoked, ReasonRevoked},
	{vc.ErrSuspended, ReasonSuspended},
	{vc.ErrUntrustedIssuer, ReasonUntrustedIssuer},
	{vc.ErrUnknownKey, ReasonUnknownKey},
	{vc.ErrBadSignature, ReasonBadSignature},
	{vc.ErrExpired, ReasonExpired},
	{vc.ErrNotYetValid, ReasonNotYetValid},
	{vc.ErrChallenge, ReasonChallenge},
	{vc.ErrHolder, ReasonHolder},
	{vc.ErrStatus, ReasonStatusUnavailable},
	{vc.ErrBundle, ReasonBundle},
	{vc.ErrMalformed, ReasonMalformed},
}

// Reason returns the stable reason of a verification error, ReasonError
// for one that is not a verdict (a failed lookup).
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonError
}
