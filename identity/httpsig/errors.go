package httpsig

import "errors"

// Errors returned by Verify and Sign; test with errors.Is. Each failure
// wraps exactly one, with the reason.
var (
	ErrMissing          = errors.New("httpsig: missing signature")
	ErrMalformed        = errors.New("httpsig: malformed signature header")
	ErrUnsupported      = errors.New("httpsig: unsupported algorithm or component")
	ErrMissingComponent = errors.New("httpsig: required component not covered")
	ErrExpired          = errors.New("httpsig: signature expired")
	ErrNotYetValid      = errors.New("httpsig: signature created in the future")
	ErrValidity         = errors.New("httpsig: signature validity too long or missing")
	ErrDigest           = errors.New("httpsig: content digest mismatch")
	ErrUnknownKey       = errors.New("httpsig: unknown or rotated key")
	ErrBadSignature     = errors.New("httpsig: bad signature")
	ErrReplay           = errors.New("httpsig: nonce replayed")
	ErrBusy             = errors.New("httpsig: replay cache full")
	ErrBodyTooLarge     = errors.New("httpsig: body too large")
)
