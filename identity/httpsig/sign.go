package httpsig

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/polityledger/polity/chain/crypto"
)

// Signing defaults.
const (
	// DefaultLabel is the signature label used and required.
	DefaultLabel = "sig"
	// DefaultValidity is how long a signature made by Sign stays valid.
	DefaultValidity = time.Minute
	nonceBytes      = 18
)

// SignOptions adjust SignWith. Zero fields take defaults.
type SignOptions struct {
	Now      time.Time     // creation time; default time.Now()
	Validity time.Duration // expires - created; default DefaultValidity
	Nonce    string        // default 18 random bytes, base64url
	Label    string        // default DefaultLabel
}

// Sign signs req with key for keyid (a DID URL) using defaults. It sets
// Content-Digest when the request has a body, then Signature-Input and
// Signature. The body is read and replaced so the request can still be sent.
func Sign(req *http.Request, key crypto.PrivateKey, keyid string) error {
	return SignWith(req, key, keyid, SignOptions{})
}

// SignWith is Sign with options.
func SignWith(req *http.Request, key crypto.PrivateKey, keyid string, o SignOptions) error {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.Label == "" {
		o.Label = DefaultLabel
	}
	if o.Nonce == "" {
		var b [nonceBytes]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		o.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	}
	alg, err := algForKey(key.Public())
	if err != nil {
		return err
	}
	if !validString(keyid) || !validString(o.Nonce) {
		return fmt.Errorf("%w: keyid and nonce must be printable ASCII", ErrMalformed)
	}
	covered := []string{CompMethod, CompAuthority, CompPath, CompQuery}
	body, err := readBody(req)
	if err != nil {
		return err
	}
	if len(body) > 0 {
		if req.Header.Get("Content-Type") == "" {
			return fmt.Errorf("%w: a request with a body needs Content-Type", ErrMissingComponent)
		}
		req.Header.Set("Content-Digest", ContentDigest(body))
		covered = append(covered, "content-type", "content-digest")
	}
	items := make([]item, len(covered))
	for i, c := range covered {
		items[i] = item{val: bareItem{kind: kString, s: c}}
	}
	params := []param{
		{key: "created", val: bareItem{kind: kInt, i: o.Now.Unix()}},
		{key: "expires", val: bareItem{kind: kInt, i: o.Now.Add(o.Validity).Unix()}},
		{key: "nonce", val: bareItem{kind: kString, s: o.Nonce}},
		{key: "keyid", val: bareItem{kind: kString, s: keyid}},
		{key: "alg", val: bareItem{kind: kString, s: alg}},
	}
	m := clientMessage(req)
	base, err := signatureBase(&m, items, params)
	if err != nil {
		return err
	}
	sig, err := key.Sign([]byte(base))
	if err != nil {
		return fmt.Errorf("httpsig: signing: %w", err)
	}
	req.Header.Set("Signature-Input", o.Label+"="+serializeInnerList(items, params))
	req.Header.Set("Signature", o.Label+"="+serializeBare(bareItem{kind: kBytes, b: sig}))
	return nil
}

// readBody reads and restores a client request's body.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	_ = req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
	return body, nil
}
