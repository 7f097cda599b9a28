package vc

import "errors"

// Errors returned by Issue, Present and the verifiers; test with errors.Is.
// Every failure wraps exactly one of them with a reason.
var (
	// ErrMalformed: the input is not a well-formed credential, presentation,
	// status list or bundle (syntax, size bounds, missing fields).
	ErrMalformed = errors.New("vc: malformed")
	// ErrBadSignature: the signature does not verify under the resolved key,
	// or the algorithm does not fit the key.
	ErrBadSignature = errors.New("vc: bad signature")
	// ErrUnknownKey: the verification method does not exist, does not belong
	// to the signer, or was not valid at the time asked. KeyResolver
	// implementations wrap it.
	ErrUnknownKey = errors.New("vc: unknown verification key")
	// ErrUntrustedIssuer: the trust registry does not let the issuer issue
	// one of the credential's types.
	ErrUntrustedIssuer = errors.New("vc: issuer not trusted for this credential type")
	// ErrRevoked: the credential's revocation bit is set.
	ErrRevoked = errors.New("vc: credential revoked")
	// ErrSuspended: the credential's suspension bit is set.
	ErrSuspended = errors.New("vc: credential suspended")
	// ErrExpired: the credential or presentation is past its expiry.
	ErrExpired = errors.New("vc: expired")
	// ErrNotYetValid: the credential or presentation is not valid yet.
	ErrNotYetValid = errors.New("vc: not yet valid")
	// ErrChallenge: a presentation's nonce or audience is not the verifier's
	// challenge or domain.
	ErrChallenge = errors.New("vc: challenge or domain mismatch")
	// ErrHolder: a presented credential's subject is not the presentation's
	// holder.
	ErrHolder = errors.New("vc: holder is not the credential subject")
	// ErrStatus: the status of a credential could not be established (the
	// StatusSource failed or the bundle lacks the entry).
	ErrStatus = errors.New("vc: status unavailable")
	// ErrBundle: an offline bundle does not prove what it claims (bad proof,
	// untrusted header, missing or extra entries, stale header).
	ErrBundle = errors.New("vc: bundle does not verify")
)
