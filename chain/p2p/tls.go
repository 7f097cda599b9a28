package p2p

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// alpn names the protocol in the TLS handshake, so a p2p endpoint never
// completes a handshake with a client of another TLS protocol (or vice versa).
const alpn = "polity-p2p/1"

// certLifetime is the validity of the self-signed node certificate. Peers
// authenticate by pinned key, not by the validity period; it only keeps the
// certificate conventional.
const certLifetime = 365 * 24 * time.Hour

// Authentication errors.
var (
	ErrNoPeerCert   = errors.New("p2p: peer presented no certificate")
	ErrUnknownKey   = errors.New("p2p: peer key is not a configured peer's")
	ErrWrongPeer    = errors.New("p2p: peer key belongs to another peer than the one dialled")
	ErrPeerIdentity = errors.New("p2p: peer identity does not match its key")
)

// selfSigned makes the node's short-lived self-signed certificate: CN is the
// node ID, the key is the Ed25519 node key.
func selfSigned(id string, key ed25519.PrivateKey, now time.Time) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: id},
		NotBefore:             now.Add(-time.Hour), // tolerate peers' clock skew
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("p2p: node certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("p2p: node certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// verifyPeer authenticates a handshake by pinning: the leaf certificate's
// key must be a configured peer's Ed25519 key (expect's, when non-nil: the
// peer we dialled), and its CN that peer's ID. The chain is not verified
// against any CA; the TLS 1.3 CertificateVerify message proves the peer holds
// the private key.
func (t *Transport) verifyPeer(certs []*x509.Certificate, expect *peer) (*peer, error) {
	if len(certs) == 0 {
		return nil, ErrNoPeerCert
	}
	leaf := certs[0]
	pub, ok := leaf.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an Ed25519 key", ErrUnknownKey)
	}
	p := t.peerByKey(pub)
	if p == nil {
		return nil, ErrUnknownKey
	}
	if expect != nil && p != expect {
		return nil, fmt.Errorf("%w: dialled %q, key of %q", ErrWrongPeer, expect.ID, p.ID)
	}
	if leaf.Subject.CommonName != p.ID {
		return nil, fmt.Errorf("%w: certificate names %q, key is %q's", ErrPeerIdentity, leaf.Subject.CommonName, p.ID)
	}
	return p, nil
}

// serverTLS accepts any configured peer.
func (t *Transport) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{t.cert},
		ClientAuth:             tls.RequireAnyClientCert, // verified by pinning below
		NextProtos:             []string{alpn},
		SessionTicketsDisabled: true, // every connection does a full, pinned handshake
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := t.verifyPeer(cs.PeerCertificates, nil)
			return err
		},
	}
}

// clientTLS accepts only the dialled peer p. InsecureSkipVerify disables
// CA-chain and host-name verification only; VerifyConnection pins the key.
func (t *Transport) clientTLS(p *peer) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{t.cert},
		InsecureSkipVerify: true,
		NextProtos:         []string{alpn},
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := t.verifyPeer(cs.PeerCertificates, p)
			return err
		},
	}
}
