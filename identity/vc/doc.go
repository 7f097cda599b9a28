// Package vc issues, presents and verifies W3C Verifiable Credentials (VC
// Data Model v1.1, https://www.w3.org/TR/vc-data-model/) secured as JWTs
// (section 6.3.1, "JSON Web Token"), with revocation and suspension by a W3C
// Bitstring Status List (https://www.w3.org/TR/vc-bitstring-status-list/).
//
// The data model comes from aries-framework-go's verifiable package; this
// package owns the security decisions around it: strict JWS parsing, the
// algorithm bound to the resolved key's type, issuer/key binding, validity
// times, the trust registry and the status check. Verification never touches
// the network: only compact JWTs are accepted (a JSON-LD credential would make
// aries resolve contexts and schemas), and the JSON-LD contexts a credential
// may name are embedded (see ContextLoader).
//
// Everything the verifier needs from the identity chain comes through three
// small interfaces declared in deps.go; the offline Bundle satisfies them from
// state proven against a certified header.
package vc
