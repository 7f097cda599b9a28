package services

import (
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/httpsig"
)

// SignRequest signs a client request for a write operation (RFC 9421,
// httpsig.Sign: a fresh nonce, valid for httpsig.DefaultValidity). keyid is
// the DID URL of the signing method; empty means key's own key DID
// (did:polity:<address>#key-0 under suite s), for which the public key is
// also sent in PublicKeyHeader. Sign once per request: a signature is
// refused the second time.
func SignRequest(req *http.Request, s crypto.Suite, key crypto.PrivateKey, keyid string) error {
	pub := key.Public().Bytes()
	if keyid == "" {
		keyid = chain.KeyDID(s, pub)
	}
	u, err := did.ParseURL(keyid)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	if _, isKey := u.DID.Address(); isKey {
		req.Header.Set(PublicKeyHeader, base64.StdEncoding.EncodeToString(pub))
	} else {
		req.Header.Del(PublicKeyHeader)
	}
	return httpsig.Sign(req, key, keyid)
}
