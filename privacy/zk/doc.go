// Package zk proves predicates over issuer-signed credential attributes
// without revealing them: "born on or before a cutoff date" (age at least N),
// "attribute is a member of a set" and "attribute lies in [min, max]".
//
// An issuer commits to a credential (attribute vector, holder DID hash,
// status list and index, random salt) with Poseidon2 over the BN254 scalar
// field and signs the commitment with EdDSA on the twisted Edwards curve
// over the BN254 scalar field (a = -1, cofactor 8: Baby Jubjub, EIP-2494,
// in reduced form). A holder proves, with a Groth16 proof over BN254,
// that they know a credential signed by a given issuer key, bound to a given
// holder DID, not revoked in a given status list root, and satisfying the
// predicate; the proof is bound to a verifier challenge.
//
// Proving and verifying keys come from a multi-party setup ceremony (phase 1
// "powers of tau" and a circuit-specific phase 2, Bowe-Gabizon-Miers,
// https://eprint.iacr.org/2017/1050): the keys are sound if at least one
// contributor destroyed their randomness.
//
// The package wraps gnark and gnark-crypto; callers see only its own types.
// See docs/privacy-zk.md for the threat model, the statements and numbers.
package zk
