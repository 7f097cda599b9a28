package httpsig

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
)

// ContentDigest returns the Content-Digest field value for body (RFC 9530
// section 2, algorithm sha-256).
func ContentDigest(body []byte) string {
	d := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(d[:]) + ":"
}

// checkDigest verifies a Content-Digest field value against body: its
// sha-256 member must match. Members with other algorithms are ignored, as
// RFC 9530 section 2 allows, but sha-256 is required.
func checkDigest(field string, body []byte) error {
	ms, err := parseDictionary(field)
	if err != nil {
		return fmt.Errorf("%w: Content-Digest: %w", ErrDigest, err)
	}
	for _, m := range ms {
		if m.key != "sha-256" {
			continue
		}
		if m.isList || m.item.val.kind != kBytes || len(m.item.params) != 0 {
			return fmt.Errorf("%w: sha-256 member is not a byte sequence", ErrDigest)
		}
		d := sha256.Sum256(body)
		if subtle.ConstantTimeCompare(d[:], m.item.val.b) != 1 {
			return fmt.Errorf("%w: sha-256 of the body differs", ErrDigest)
		}
		return nil
	}
	return fmt.Errorf("%w: no sha-256 member", ErrDigest)
}
