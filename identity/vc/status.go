package vc

import (
	"fmt"
	"strconv"

	"github.com/hyperledger/aries-framework-go/component/models/verifiable"
)

// Purpose is a status list's statusPurpose.
type Purpose string

// Status purposes this package issues and checks (Bitstring Status List
// section 2.1). A "message" purpose carries no verdict and is not supported.
const (
	PurposeRevocation Purpose = "revocation"
	PurposeSuspension Purpose = "suspension"
)

// StatusEntryType is the credentialStatus type of a Bitstring Status List
// entry.
const StatusEntryType = "BitstringStatusListEntry"

// StatusEntry is a credential's credentialStatus: which bit of which list
// says whether it is revoked or suspended.
type StatusEntry struct {
	Purpose Purpose
	// ListID is the statusListCredential: the ID of the status list on the
	// identity chain (and of the list credential published from it). On a
	// Polity identity chain it is "<issuer DID>/status/<list id>" (see
	// identity/chainview.ListURL): the list's issuer and its per-issuer id.
	ListID string
	Index  uint64
}

func (p Purpose) valid() bool { return p == PurposeRevocation || p == PurposeSuspension }

// typedID returns the JSON-LD form (section 2.1, "BitstringStatusListEntry").
func (e *StatusEntry) typedID() verifiable.TypedID {
	idx := strconv.FormatUint(e.Index, 10)
	return verifiable.TypedID{
		ID:   e.ListID + "#" + idx,
		Type: StatusEntryType,
		CustomFields: verifiable.CustomFields{
			"statusPurpose":        string(e.Purpose),
			"statusListIndex":      idx,
			"statusListCredential": e.ListID,
		},
	}
}

func (e *StatusEntry) validate() error {
	if !e.Purpose.valid() {
		return fmt.Errorf("%w: status purpose %q", ErrMalformed, e.Purpose)
	}
	if e.ListID == "" || len(e.ListID) > maxURLLen {
		return fmt.Errorf("%w: statusListCredential of %d bytes", ErrMalformed, len(e.ListID))
	}
	if e.Index >= MaxListBits {
		return fmt.Errorf("%w: statusListIndex %d past %d", ErrMalformed, e.Index, MaxListBits)
	}
	return nil
}

// parseStatus reads a credentialStatus strictly: the entry type, exactly the
// four fields of the spec, a base-10 index without sign or leading zeros.
func parseStatus(t *verifiable.TypedID) (*StatusEntry, error) {
	if t.Type != StatusEntryType {
		return nil, fmt.Errorf("%w: credentialStatus type %q", ErrMalformed, t.Type)
	}
	purpose, ok1 := t.CustomFields["statusPurpose"].(string)
	idx, ok2 := t.CustomFields["statusListIndex"].(string)
	list, ok3 := t.CustomFields["statusListCredential"].(string)
	if !ok1 || !ok2 || !ok3 || len(t.CustomFields) != 3 {
		return nil, fmt.Errorf("%w: credentialStatus needs exactly statusPurpose, statusListIndex and statusListCredential strings", ErrMalformed)
	}
	n, err := strconv.ParseUint(idx, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != idx {
		return nil, fmt.Errorf("%w: statusListIndex %q", ErrMalformed, idx)
	}
	e := &StatusEntry{Purpose: Purpose(purpose), ListID: list, Index: n}
	if err := e.validate(); err != nil {
		return nil, err
	}
	if t.ID != "" && t.ID != list+"#"+idx {
		return nil, fmt.Errorf("%w: credentialStatus id %q is not the list and index", ErrMalformed, t.ID)
	}
	return e, nil
}
