package httpsig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

type ctxKey struct{}

// FromContext returns the signer Middleware authenticated.
func FromContext(ctx context.Context) (*Result, bool) {
	r, ok := ctx.Value(ctxKey{}).(*Result)
	return r, ok
}

// Middleware authenticates every request before next: it reads the body (at
// most MaxBody bytes), verifies the signature, restores the body and puts
// the Result in the request context. A failure is answered with an RFC 9457
// problem document: 401 for a missing or invalid signature, 413 for a body
// too large, 503 when the replay cache is full, 500 when the key lookup
// failed for another reason.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil && r.Body != http.NoBody {
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, v.cfg.MaxBody))
			if err != nil {
				writeProblem(w, ErrBodyTooLarge)
				return
			}
			body = b
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		res, err := v.Verify(r, body)
		if err != nil {
			writeProblem(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, res)))
	})
}

// problems maps each sentinel to a status and a stable code.
var problems = []struct {
	err    error
	status int
	code   string
}{
	{ErrMissing, http.StatusUnauthorized, "signature_missing"},
	{ErrMalformed, http.StatusUnauthorized, "signature_malformed"},
	{ErrUnsupported, http.StatusUnauthorized, "signature_unsupported"},
	{ErrMissingComponent, http.StatusUnauthorized, "signature_component_missing"},
	{ErrExpired, http.StatusUnauthorized, "signature_expired"},
	{ErrNotYetValid, http.StatusUnauthorized, "signature_not_yet_valid"},
	{ErrValidity, http.StatusUnauthorized, "signature_validity"},
	{ErrDigest, http.StatusUnauthorized, "content_digest_mismatch"},
	{ErrUnknownKey, http.StatusUnauthorized, "signature_unknown_key"},
	{ErrBadSignature, http.StatusUnauthorized, "signature_invalid"},
	{ErrReplay, http.StatusUnauthorized, "signature_replayed"},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
	{ErrBusy, http.StatusServiceUnavailable, "replay_cache_full"},
}

func writeProblem(w http.ResponseWriter, err error) {
	status, code, detail := http.StatusInternalServerError, "key_lookup_failed", "the signing key could not be looked up"
	for _, p := range problems {
		if errors.Is(err, p.err) {
			status, code, detail = p.status, p.code, err.Error()
			break
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Signature`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "code": code, "detail": detail,
	})
}
