// Package chainview connects the credential verifier (identity/vc) to the
// identity chain (identity/registry).
//
// View answers vc.KeyResolver, vc.TrustRegistry and vc.StatusSource from a
// node's live identity-chain state, and builds offline vc.Bundles proven
// against a certified header. Codec is the real vc.StateCodec: it maps the
// verifier's questions to registry state keys and turns proven values back
// into answers, so the same rules run online and offline.
//
// Status lists are named in credentials by a DID-URL-like identifier,
// "<issuer DID>/status/<list id>" (ListURL), so a statusListCredential says
// which issuer's list on the identity chain holds the entry.
//
// Time: a credential is judged by the issuer's key valid at its issuance
// time. Online, the time is mapped to the last block whose header time is at
// or before it and the registry resolves the DID at that height. Offline, the
// proven version of the issuer's document carries the header times of the
// blocks that opened and closed it (registry.Version.FromTime/UntilTime), so
// one proven value decides it; both rules give the same answer because
// header times strictly increase.
package chainview
