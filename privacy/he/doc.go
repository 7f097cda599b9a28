// Package he answers aggregate queries across departments with threshold
// homomorphic encryption, so that no party, the aggregator included, sees
// another department's contribution.
//
// It implements the MHE-MPC protocol of Mouchet, Troncoso-Pastoriza, Bossuat
// and Hubaux, "Multiparty Homomorphic Encryption from Ring-Learning-with-Errors"
// (PETS 2021, https://eprint.iacr.org/2020/304), with the t-out-of-N access
// structure of Mouchet, Bertrand and Hubaux, "An Efficient Threshold
// Access-Structure for RLWE-Based Multiparty Homomorphic Encryption"
// (https://eprint.iacr.org/2022/780), over the BGV scheme of lattigo v6.
// This is the only package of the module that imports lattigo.
//
// One query runs per key: every query generates a fresh collective key from a
// common reference string derived from its ID (see [CRS]). The steps are:
//
//  1. Key generation (round 1). Each party samples a secret key s_i, broadcasts
//     a public-key-generation share, and sends each other party a Shamir share
//     of s_i sealed to that party's static X25519 key (HPKE, RFC 9180). All N
//     parties must take part.
//  2. Contribution (round 2). Each party sums the key shares into the
//     collective public key and encrypts its local vector under it.
//     Contributions are broadcast to every party and the aggregator.
//  3. Ready (round 3). Each party adds all N contributions itself and tells
//     the aggregator the hash of the sum, so the aggregator cannot get a
//     single department's contribution decrypted in place of the sum.
//  4. Decryption request (round 4). Once t parties report the same sum as its
//     own, the aggregator names those t as the decryption set.
//  5. Decryption shares (round 5). Each party of the set sends one key-switch
//     share towards the zero key, with noise flooding; the aggregator adds the
//     t shares and decodes the result. A party never sends a second share for
//     a query (repeated shares leak the key: lattigo SECURITY.md, Mouchet et
//     al. 2024, https://eprint.iacr.org/2024/194).
//
// [Party] and [Aggregator] are deterministic-order state machines with I/O at
// the edge: they take inbound encoded messages and return [Outbound]
// messages for the caller to deliver. Neither is safe for concurrent use; one
// goroutine owns each. Every message is signed with the sender's static
// Ed25519 key and carries the query ID, the kind (round) and the sender.
package he
