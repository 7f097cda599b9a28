package zk

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Credential is the opening of a credential commitment: what the issuer
// signs (through its commitment) and what the holder keeps secret.
type Credential struct {
	Attributes Attributes
	// Holder is HashDID of the holder's DID.
	Holder Field
	// StatusList is HashStatusListID of the revocation status list.
	StatusList Field
	// StatusIndex is the credential's bit in that list, below StatusCapacity.
	StatusIndex uint32
	// Salt hides the attributes should the commitment ever be seen; fresh
	// and uniformly random per credential.
	Salt Field
}

// NewCredential fills a credential for holderDID with a fresh salt from rand.
func NewCredential(attrs Attributes, holderDID, statusListID string, statusIndex uint32, rand io.Reader) (Credential, error) {
	holder, err := HashDID(holderDID)
	if err != nil {
		return Credential{}, err
	}
	list, err := HashStatusListID(statusListID)
	if err != nil {
		return Credential{}, err
	}
	salt, err := RandomField(rand)
	if err != nil {
		return Credential{}, err
	}
	c := Credential{Attributes: attrs, Holder: holder, StatusList: list, StatusIndex: statusIndex, Salt: salt}
	return c, c.Validate()
}

// Validate checks the field elements are canonical and the index in range.
func (c *Credential) Validate() error {
	if !c.Holder.valid() || !c.StatusList.valid() || !c.Salt.valid() {
		return fmt.Errorf("%w: credential field element not canonical", ErrBadInput)
	}
	if c.StatusIndex >= StatusCapacity {
		return fmt.Errorf("%w: status index %d, want below %d", ErrBadInput, c.StatusIndex, StatusCapacity)
	}
	return nil
}

// Commitment is Poseidon2 over (tagCommitment, attributes[0..7], holder,
// status list, status index, salt): the value the issuer signs.
func (c *Credential) Commitment() (Field, error) {
	if err := c.Validate(); err != nil {
		return Field{}, err
	}
	xs := make([]fr.Element, 0, NumAttributes+4)
	for _, a := range c.Attributes {
		var e fr.Element
		e.SetUint64(a)
		xs = append(xs, e)
	}
	var idx fr.Element
	idx.SetUint64(uint64(c.StatusIndex))
	xs = append(xs, c.Holder.elem(), c.StatusList.elem(), idx, c.Salt.elem())
	h := hashN(tagCommitment, xs...)
	return fieldOf(&h), nil
}

// credentialSize is the length of a Credential's binary encoding.
const credentialSize = 1 + NumAttributes*8 + 32 + 32 + 4 + 32

const credentialVersion = 1

// MarshalBinary encodes c as version(1) attributes(8x8, big-endian)
// holder(32) statusList(32) statusIndex(4) salt(32).
func (c *Credential) MarshalBinary() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, credentialSize)
	b = append(b, credentialVersion)
	for _, a := range c.Attributes {
		b = binary.BigEndian.AppendUint64(b, a)
	}
	b = append(b, c.Holder[:]...)
	b = append(b, c.StatusList[:]...)
	b = binary.BigEndian.AppendUint32(b, c.StatusIndex)
	b = append(b, c.Salt[:]...)
	return b, nil
}

// UnmarshalBinary decodes the exact encoding of MarshalBinary.
func (c *Credential) UnmarshalBinary(b []byte) error {
	if len(b) != credentialSize {
		return fmt.Errorf("%w: credential is %d bytes, want %d", ErrBadInput, len(b), credentialSize)
	}
	if b[0] != credentialVersion {
		return fmt.Errorf("%w: credential version %d", ErrBadInput, b[0])
	}
	var out Credential
	r := b[1:]
	for i := range out.Attributes {
		out.Attributes[i] = binary.BigEndian.Uint64(r)
		r = r[8:]
	}
	var err error
	fields := []*Field{&out.Holder, &out.StatusList}
	for _, f := range fields {
		if *f, err = ParseField(r[:32]); err != nil {
			return err
		}
		r = r[32:]
	}
	out.StatusIndex = binary.BigEndian.Uint32(r)
	r = r[4:]
	if out.Salt, err = ParseField(r); err != nil {
		return err
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*c = out
	return nil
}
