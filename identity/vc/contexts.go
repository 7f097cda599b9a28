package vc

import (
	_ "embed" // the Polity context document
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hyperledger/aries-framework-go/component/models/ld/context/embed"
	"github.com/hyperledger/aries-framework-go/component/models/verifiable"
	"github.com/piprate/json-gold/ld"
)

// PolityContext is the JSON-LD context of Polity credentials: the terms of
// BitstringStatusListEntry (which the VC v1.1 context lacks) and a vocabulary
// for credential types and subject claims. Its document is embedded.
const PolityContext = "https://polityledger.github.io/ns/credentials/v1"

//go:embed contexts/polity-credentials-v1.jsonld
var polityContextDoc []byte

// credentialContexts is the @context every credential and presentation
// carries, in this order: the VC base context first (VC Data Model 1.1
// section 4.1), then ours.
var credentialContexts = []string{verifiable.ContextURI, PolityContext}

// ContextLoader is a JSON-LD document loader (json-gold's ld.DocumentLoader)
// that serves the embedded contexts and nothing else: it never opens a
// connection. The zero value is not usable; call NewContextLoader.
type ContextLoader struct {
	docs map[string]*ld.RemoteDocument
}

var _ ld.DocumentLoader = (*ContextLoader)(nil)

// NewContextLoader parses the embedded contexts: the VC v1 context as shipped
// with aries-framework-go and PolityContext.
func NewContextLoader() (*ContextLoader, error) {
	l := &ContextLoader{docs: map[string]*ld.RemoteDocument{}}
	add := func(url string, content []byte) error {
		var doc any
		if err := json.Unmarshal(content, &doc); err != nil {
			return fmt.Errorf("vc: embedded context %s: %w", url, err)
		}
		l.docs[url] = &ld.RemoteDocument{DocumentURL: url, Document: doc}
		return nil
	}
	for _, c := range embed.Contexts {
		if c.URL == verifiable.ContextURI {
			if err := add(c.URL, c.Content); err != nil {
				return nil, err
			}
		}
	}
	if err := add(PolityContext, polityContextDoc); err != nil {
		return nil, err
	}
	if len(l.docs) != len(credentialContexts) {
		return nil, fmt.Errorf("vc: embedded contexts missing: have %d of %d", len(l.docs), len(credentialContexts))
	}
	return l, nil
}

// LoadDocument returns an embedded context, or an error for any other URL.
func (l *ContextLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	if d, ok := l.docs[u]; ok {
		return d, nil
	}
	return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed, fmt.Sprintf("vc: context %q is not embedded and is never fetched", u))
}

// checkContexts requires exactly the contexts this package issues with.
func checkContexts(ctx []string, custom []any) error {
	if len(custom) != 0 || !slices.Equal(ctx, credentialContexts) {
		return fmt.Errorf("%w: @context must be %q", ErrMalformed, credentialContexts)
	}
	return nil
}
