// Package httpsig signs and verifies HTTP requests with HTTP Message
// Signatures (RFC 9421), so every write to the API is authenticated by a key
// of the caller's DID.
//
// A request is signed over @method, @authority, @path and @query (or
// @target-uri), and, when it has a body, content-type and content-digest
// (RFC 9530, sha-256). The signature parameters carry created, expires, a
// nonce, the keyid (the DID URL of a verification method) and alg: "ed25519"
// (RFC 9421 section 3.3.6) or "sm2-sm3" (ours, see AlgSM2SM3). The Verifier
// resolves keyid to the method's current key, so requests signed with a key
// rotated away fail; it bounds clock skew and validity and refuses replays
// of a nonce. Middleware puts it in front of handlers and answers failures
// with 401 and a problem document (RFC 9457).
//
// Signature-Input, Signature and Content-Digest are RFC 8941 dictionaries;
// sfv.go implements the subset they need, strictly.
package httpsig
