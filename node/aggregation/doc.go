// Package aggregation runs a node's part in threshold homomorphic
// aggregation queries (privacy/he) recorded on the governance chain
// (domains/aggregate): it is the driver that docs/privacy-he.md describes.
//
// One Driver runs per node. It watches the governance chain for queries that
// name this node (as a participant, by the address of its node key, or as the
// aggregator) and:
//
//   - takes the department's plaintext input vector through SubmitInput (the
//     node-local admin endpoint); the vector never leaves the node
//     unencrypted. With the input it makes a fresh X25519 key for the query
//     and approves the query on chain, publishing that key (approve's
//     box_key), signed by the node key;
//   - once every participant approved (phase keygen), runs an he.Party with
//     the input, and on the aggregator's node an he.Aggregator;
//   - carries protocol messages to the other nodes over the p2p mesh on the
//     reserved channel Channel, with acknowledgements and retransmission with
//     back-off, so a lost connection or a peer that is a block behind costs
//     latency, not the query;
//   - records each step's hash on the governance chain in a transaction
//     signed by the node key (submit_key_share_hash, submit_contribution,
//     submit_decryption_share) and, on the aggregator, publish_result;
//   - submits abort once the query's deadline (height or block time) has
//     passed without a result, so a department that drops out cannot stall
//     a query: every involved node does, the first abort wins.
//
// Key material (the input, the box key, the party's secret-key shares) lives
// in memory only and is erased when the query ends. A node that restarts
// while a query it approved is open cannot take part any more: the driver
// remembers the open queries (state file) and aborts them at their deadline.
//
// One goroutine (Run) owns all protocol state; the mesh receiver and the API
// talk to it over channels.
package aggregation
