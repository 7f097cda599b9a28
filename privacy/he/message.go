package he

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// Kind is a message's type; each kind belongs to one protocol round.
type Kind uint8

// Message kinds, in protocol order.
const (
	// KindKeyShare: round 1, member to all; a public-key-generation share.
	KindKeyShare Kind = 1
	// KindThresholdShare: round 1, member to one member; a Shamir share of
	// the sender's secret key, sealed to the recipient.
	KindThresholdShare Kind = 2
	// KindContribution: round 2, member to all; the public-key hash and the
	// encrypted local vector.
	KindContribution Kind = 3
	// KindReady: round 3, member to aggregator; the hash of the aggregate
	// the member computed itself.
	KindReady Kind = 4
	// KindDecryptRequest: round 4, aggregator to all; the aggregate hash and
	// the decryption set.
	KindDecryptRequest Kind = 5
	// KindDecryptShare: round 5, member to aggregator; the aggregate hash
	// and a flooded key-switch share.
	KindDecryptShare Kind = 6
)

// Round is the protocol round the kind belongs to (1..5), 0 if unknown.
func (k Kind) Round() int {
	switch k {
	case KindKeyShare, KindThresholdShare:
		return 1
	case KindContribution, KindReady, KindDecryptRequest, KindDecryptShare:
		return int(k) - 1
	}
	return 0
}

func (k Kind) String() string {
	switch k {
	case KindKeyShare:
		return "key-share"
	case KindThresholdShare:
		return "threshold-share"
	case KindContribution:
		return "contribution"
	case KindReady:
		return "ready"
	case KindDecryptRequest:
		return "decrypt-request"
	case KindDecryptShare:
		return "decrypt-share"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Wire format (all lengths bounded; decoding is strict and canonical):
//
//	magic "PHE1" | kind u8 | len u8, query ID | len u8, sender |
//	len u8, recipient ("" = broadcast) | len u32 BE, payload | Ed25519 signature (64)
//
// The signature covers a label and every byte before it.
const (
	magic = "PHE1"
	// MaxPayload bounds a payload: the largest is a contribution (hash and
	// two polynomials, 384 KiB + 32).
	MaxPayload = 32 + 2*Slots*3*8
	// MaxMessageSize bounds a whole encoded message.
	MaxMessageSize = len(magic) + 1 + 3*(1+MaxIDLen) + 4 + MaxPayload + ed25519.SignatureSize
)

// Message is one protocol message.
type Message struct {
	Kind    Kind
	Query   string
	Sender  string
	To      string // recipient ID; empty for a broadcast
	Payload []byte
	Sig     []byte
}

// body is the signed part of the encoding.
func (m *Message) body() []byte {
	b := make([]byte, 0, len(magic)+1+3+len(m.Query)+len(m.Sender)+len(m.To)+4+len(m.Payload)+ed25519.SignatureSize)
	b = append(b, magic...)
	b = append(b, byte(m.Kind))
	for _, s := range []string{m.Query, m.Sender, m.To} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Payload)))
	return append(b, m.Payload...)
}

func signed(body []byte) []byte { return append([]byte(labelSign), body...) }

// Sign signs m with key, sets m.Sig and returns the encoding.
func (m *Message) Sign(key ed25519.PrivateKey) []byte {
	b := m.body()
	m.Sig = ed25519.Sign(key, signed(b))
	return append(b, m.Sig...)
}

// Encode returns the encoding of a signed message.
func (m *Message) Encode() []byte { return append(m.body(), m.Sig...) }

// Verify checks the signature under pub.
func (m *Message) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, signed(m.body()), m.Sig) {
		return fmt.Errorf("%w: %s from %s", ErrBadSignature, m.Kind, m.Sender)
	}
	return nil
}

// DecodeMessage parses an encoded message strictly: known kind, bounded
// printable IDs, exact lengths, no trailing bytes. It does not verify the
// signature (that needs the roster: see Verify).
func DecodeMessage(b []byte) (*Message, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxMessageSize)
	}
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	m := &Message{Kind: Kind(b[len(magic)])}
	if m.Kind.Round() == 0 {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, b[len(magic)])
	}
	rest := b[len(magic)+1:]
	var ids [3]string
	for i, name := range []string{"query", "sender", "recipient"} {
		if len(rest) < 1 || int(rest[0]) > len(rest)-1 {
			return nil, fmt.Errorf("%w: truncated %s", ErrMalformed, name)
		}
		n := int(rest[0])
		ids[i] = string(rest[1 : 1+n])
		rest = rest[1+n:]
		if !(validID(ids[i]) || (i == 2 && n == 0)) {
			return nil, fmt.Errorf("%w: %s ID must be 1..%d printable ASCII characters", ErrMalformed, name, MaxIDLen)
		}
	}
	m.Query, m.Sender, m.To = ids[0], ids[1], ids[2]
	if len(rest) < 4 {
		return nil, fmt.Errorf("%w: truncated payload length", ErrMalformed)
	}
	n := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if n > MaxPayload || uint64(n)+ed25519.SignatureSize != uint64(len(rest)) {
		return nil, fmt.Errorf("%w: payload of %d bytes with %d bytes left", ErrMalformed, n, len(rest))
	}
	m.Payload = rest[:n:n]
	m.Sig = rest[n:]
	return m, nil
}

// Outbound is a message for the caller to deliver.
type Outbound struct {
	// To is the recipient's ID; empty means every member except the sender,
	// and the aggregator.
	To   string
	Kind Kind
	// Data is the encoded signed message.
	Data []byte
	// Hash is MessageHash(Data): record it on the governance chain for
	// key shares, contributions and decryption shares.
	Hash [32]byte
}

func outbound(m *Message, key ed25519.PrivateKey) Outbound {
	data := m.Sign(key)
	return Outbound{To: m.To, Kind: m.Kind, Data: data, Hash: MessageHash(data)}
}
