// Command polity is Polity's one binary: the devnet, key management, and a
// client for the HTTP API and for offline proof verification.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type command struct {
	summary string
	run     func(args []string, stdout io.Writer) error
}

var commands = map[string]command{
	"devnet":            {"run a whole federation in one process (make run)", runDevnet},
	"init":              {"write keys, genesis files and configs for an N-node network", runInit},
	"node":              {"run one node from its home directory", runNode},
	"keys new":          {"create a key file", runKeysNew},
	"keys show":         {"print a key file's public key, address and DID", runKeysShow},
	"tx send":           {"build, sign, submit a transaction and wait for its receipt", runTxSend},
	"tx get":            {"fetch a transaction's status, receipt and proof", runTxGet},
	"chain list":        {"list the chains a node hosts", runChainList},
	"proof verify":      {"verify a saved proof bundle offline", runProofVerify},
	"state get":         {"fetch a module's state value with its proof", runStateGet},
	"did register":      {"register a DID (signed by the authority and the subject's key)", runDIDRegister},
	"did update":        {"rotate or add a DID's keys", runDIDUpdate},
	"did deactivate":    {"deactivate a DID", runDIDDeactivate},
	"did resolve":       {"resolve a DID (latest or at a height) with its proof", runDIDResolve},
	"roles grant":       {"grant a role on the identity chain", runRoles("grant")},
	"roles revoke":      {"revoke a role", runRoles("revoke")},
	"trust set":         {"trust an issuer for a credential type", runTrust("set")},
	"trust remove":      {"stop trusting an issuer for a credential type", runTrust("remove")},
	"status create":     {"create a status list (revocation or suspension)", runStatusCreate},
	"status set":        {"revoke, suspend or unsuspend a status list entry", runStatusSet},
	"vc issue":          {"sign a credential locally and have the federation confirm it", runVCIssue},
	"vc present":        {"sign a presentation of credentials for a verifier's challenge", runVCPresent},
	"vc bundle":         {"fetch a credential's offline verification bundle", runVCBundle},
	"vc check":          {"verify a credential or presentation through a node", runVCCheck},
	"vc verify":         {"verify a credential bundle fully offline", runVCVerify},
	"aggregate propose": {"propose a threshold homomorphic aggregation query (signed governance tx)", runAggregatePropose},
	"aggregate input":   {"give your department's input vector to your own node for a query", runAggregateInput},
	"aggregate get":     {"show a query's record and the node's side of it; optionally wait for its end", runAggregateGet},
	"aggregate nodes":   {"list the federation's nodes and their participant addresses", runAggregateNodes},
	"zk setup":          {"key ceremony steps over files, or dev / dev-insecure keys (zk setup -h)", runZKSetup},
	"zk issuer-key":     {"new or show an issuer's BN254 key for zk credentials", runZKIssuerKey},
	"zk publish":        {"publish verifying keys (admin) or an issuer key on the identity chain", runZKPublish},
	"zk issue":          {"sign a zk credential (attribute commitment) for a holder", runZKIssue},
	"zk challenge":      {"take a single-use challenge for a predicate from a node (verifier)", runZKChallenge},
	"zk prove":          {"prove a predicate over your zk credential for a challenge (holder)", runZKProve},
	"zk verify":         {"verify a zk presentation offline with a verifying key file", runZKVerify},
	"snapshot restore":  {"restore a node's chains from another node's verified state snapshots", runSnapshotRestore},
	"valset propose":    {"propose adding or removing a validator of a chain (signed by a current validator)", runValsetPropose},
	"valset vote":       {"vote for a validator set proposal (signed by a current validator)", runValsetVote},
	"valset show":       {"show a chain's current validator set", runValsetShow},
	"bench":             {"offer signed load to a running network and report throughput, latency, agreement", runBench},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: polity <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'polity <command> -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args and returns the exit code: 0 ok, 1 failure, 2 usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	name, rest := args[0], args[1:]
	cmd, ok := commands[name]
	if !ok && len(args) > 1 {
		name, rest = args[0]+" "+args[1], args[2:]
		cmd, ok = commands[name]
	}
	if !ok {
		fmt.Fprintf(stderr, "polity: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
		usage(stderr)
		return 2
	}
	if err := cmd.run(rest, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "polity %s: %v\n", name, err)
			return 2
		}
		fmt.Fprintf(stderr, "polity %s: %v\n", name, err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("polity "+name, flag.ContinueOnError)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}
