package main

// polity zk setup: the Groth16 key ceremony of privacy/zk over files, one
// party per invocation, so departments can pass the state around; the
// all-in-one-process rehearsal (dev); and an explicitly insecure fast path
// for tests and demos (dev-insecure).

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/polityledger/polity/privacy/zk"
)

// maxZKFile bounds any ceremony state, SRS or key file read (the largest,
// a phase-1 state, is about 3.1 MB).
const maxZKFile = 16 << 20

var zkSetupSteps = map[string]struct {
	summary string
	run     func(args []string, stdout io.Writer) error
}{
	"phase1-start":      {"write the initial phase-1 state (deterministic)", runZKPhase1Start},
	"phase1-contribute": {"add your contribution to a phase-1 state (fresh randomness, then discarded)", runZKPhase1Contribute},
	"phase1-verify":     {"verify a phase-1 transcript, seal it with the beacon, write the SRS", runZKPhase1Verify},
	"phase2-start":      {"write a predicate's initial phase-2 state from the SRS (deterministic; minutes)", runZKPhase2Start},
	"phase2-contribute": {"add your contribution to a predicate's phase-2 state", runZKPhase2Contribute},
	"phase2-finish":     {"verify a phase-2 transcript, seal it, write the proving and verifying keys (minutes)", runZKPhase2Finish},
	"dev":               {"run a whole ceremony in this process with N parties (development; many minutes)", runZKSetupDev},
	"dev-insecure":      {"single-party keys in seconds; whoever runs it can forge proofs (tests, demos)", runZKSetupInsecure},
}

func runZKSetup(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		names := make([]string, 0, len(zkSetupSteps))
		for n := range zkSetupSteps {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		b.WriteString("usage: polity zk setup <step> [flags]\n\nsteps:\n")
		for _, n := range names {
			fmt.Fprintf(&b, "  %-18s %s\n", n, zkSetupSteps[n].summary)
		}
		if len(args) == 0 {
			return usageError{errors.New(b.String())}
		}
		fmt.Fprint(stdout, b.String())
		return nil
	}
	step, ok := zkSetupSteps[args[0]]
	if !ok {
		return usageError{fmt.Errorf("unknown step %q (polity zk setup -h lists them)", args[0])}
	}
	return step.run(args[1:], stdout)
}

// writeOut writes b to path (0644: ceremony states and keys are public).
func writeOut(path string, b []byte, stdout io.Writer, what string) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s (%d bytes)\n", what, path, len(b))
	return nil
}

func requireFlags(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			missing = append(missing, "-"+pairs[i])
		}
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("%s required", strings.Join(missing, ", "))}
	}
	return nil
}

func runZKPhase1Start(args []string, stdout io.Writer) error {
	fs := newFlags("zk setup phase1-start")
	out := fs.String("out", "", "write the state here (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("out", *out); err != nil {
		return err
	}
	st, err := zk.Phase1Start()
	if err != nil {
		return err
	}
	return writeOut(*out, st, stdout, "phase-1 start")
}

func runZKPhase1Contribute(args []string, stdout io.Writer) error {
	fs := newFlags("zk setup phase1-contribute")
	in := fs.String("in", "", "the previous party's state (required)")
	out := fs.String("out", "", "write your contribution here (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("in", *in, "out", *out); err != nil {
		return err
	}
	prev, err := readBounded(*in, maxZKFile)
	if err != nil {
		return err
	}
	st, err := zk.Phase1Contribute(prev)
	if err != nil {
		return err
	}
	return writeOut(*out, st, stdout, "phase-1 contribution")
}

// transcript reads the contribution files named by the positional args.
func transcript(files []string) ([][]byte, error) {
	if len(files) == 0 {
		return nil, usageError{errors.New("name the contribution files, in order")}
	}
	if len(files) > zk.MaxTranscriptLen {
		return nil, usageError{fmt.Errorf("at most %d contributions", zk.MaxTranscriptLen)}
	}
	var t [][]byte
	for _, f := range files {
		b, err := readBounded(f, maxZKFile)
		if err != nil {
			return nil, err
		}
		t = append(t, b)
	}
	return t, nil
}

func checkBeaconFlag(b string) error {
	if len(b) < zk.MinBeaconLen || len(b) > zk.MaxBeaconLen {
		return usageError{fmt.Errorf("-beacon must be %d..%d bytes: a public random value fixed after the last contribution (e.g. a governance block hash at an announced height)", zk.MinBeaconLen, zk.MaxBeaconLen)}
	}
	return nil
}

func runZKPhase1Verify(args []string, stdout io.Writer) error {
	fs := newFlags("zk setup phase1-verify")
	beacon := fs.String("beacon", "", "the public random beacon (required)")
	out := fs.String("out", "", "write the SRS here (required)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: polity zk setup phase1-verify -beacon B -out srs.bin contribution1 contribution2 ...")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("beacon", *beacon, "out", *out); err != nil {
		return err
	}
	if err := checkBeaconFlag(*beacon); err != nil {
		return err
	}
	t, err := transcript(fs.Args())
	if err != nil {
		return err
	}
	srs, err := zk.Phase1Verify(t, []byte(*beacon))
	if err != nil {
		return err
	}
	b, err := srs.MarshalBinary()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "phase 1: %d contributions verified\n", len(t))
	return writeOut(*out, b, stdout, "SRS")
}

func parsePredicateFlag(s string) (zk.Predicate, error) {
	p, err := zk.ParsePredicate(s)
	if err != nil {
		names := make([]string, len(zk.Predicates))
		for i, q := range zk.Predicates {
			names[i] = q.String()
		}
		return 0, usageError{fmt.Errorf("-predicate %q: want one of %s", s, strings.Join(names, ", "))}
	}
	return p, nil
}

func loadSRS(path string) (*zk.SRS, error) {
	b, err := readBounded(path, maxZKFile)
	if err != nil {
		return nil, err
	}
	return zk.ParseSRS(b)
}

func runZKPhase2Start(args []string, stdout io.Writer) error {
	fs := newFlags("zk setup phase2-start")
	pred := fs.String("predicate", "", "age-at-least, in-set or in-range (required)")
	srsPath := fs.String("srs", "", "the SRS phase1-verify wrote (required)")
	out := fs.String("out", "", "write the state here (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("predicate", *pred, "srs", *srsPath, "out", *out); err != nil {
		return err
	}
	p, err := parsePredicateFlag(*pred)
	if err != nil {
		return err
	}
	srs, err := loadSRS(*srsPath)
	if err != nil {
		return err
	}
	st, err := zk.Phase2Start(p, srs)
	if err != nil {
		return err
	}
	return writeOut(*out, st, stdout, p.String()+" phase-2 start")
}

func runZKPhase2Contribute(args []string, stdout io.Writer) error {
	fs := newFlags("zk setup phase2-contribute")
	pred := fs.String("predicate", "", "age-at-least, in-set or in-range (required)")
	in := fs.String("in", "", "the previous party's state (required)")
	out := fs.String("out", "", "write your contribution here (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("predicate", *pred, "in", *in, "out", *out); err != nil {
		return err
	}
	p, err := parsePredicateFlag(*pred)
	if err != nil {
		return err
	}
	prev, err := readBounded(*in, maxZKFile)
	if err != nil {
		return err
	}
	st, err := zk.Phase2Contribute(p, prev)
	if err != nil {
		return err
	}
	return writeOut(*out, st, stdout, p.String()+" phase-2 contribution")
}

// writeKeys writes dir/<predicate>.pk and .vk and prints the verifying
// key's hash, the value the identity chain publishes.
func writeKeys(dir string, pk *zk.ProvingKey, vk *zk.VerifyingKey, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pkb, err := pk.MarshalBinary()
	if err != nil {
		return err
	}
	vkb, err := vk.MarshalBinary()
	if err != nil {
		return err
	}
	h, err := vk.Hash()
	if err != nil {
		return err
	}
	p := vk.Predicate().String()
	if err := writeOut(filepath.Join(dir, p+".pk"), pkb, stdout, "proving key"); err != nil {
		return err
	}
	if err := writeOut(filepath.Join(dir, p+".vk"), vkb, stdout, "verifying key"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s verifying key hash %x\n", p, h)
	return nil
}

func runZKPhase2Finish(args []string, stdout io.Writer) error {
	fs := newFlags("zk setup phase2-finish")
	pred := fs.String("predicate", "", "age-at-least, in-set or in-range (required)")
	srsPath := fs.String("srs", "", "the SRS (required)")
	beacon := fs.String("beacon", "", "the public random beacon (required)")
	dir := fs.String("out-dir", "", "write <predicate>.pk and <predicate>.vk here (required)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: polity zk setup phase2-finish -predicate P -srs srs.bin -beacon B -out-dir keys contribution1 ...")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("predicate", *pred, "srs", *srsPath, "beacon", *beacon, "out-dir", *dir); err != nil {
		return err
	}
	if err := checkBeaconFlag(*beacon); err != nil {
		return err
	}
	p, err := parsePredicateFlag(*pred)
	if err != nil {
		return err
	}
	srs, err := loadSRS(*srsPath)
	if err != nil {
		return err
	}
	t, err := transcript(fs.Args())
	if err != nil {
		return err
	}
	pk, vk, err := zk.Phase2Finish(p, srs, t, []byte(*beacon))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "phase 2 (%s): %d contributions verified\n", p, len(t))
	return writeKeys(*dir, pk, vk, stdout)
}

func runZKSetupDev(args []string, stdout io.Writer) error {
	fs := newFlags("zk setup dev")
	parties := fs.Int("parties", 2, "contributors per phase, all in this process")
	beacon := fs.String("beacon", "", "the public random beacon (required)")
	dir := fs.String("out-dir", "", "write the keys of every predicate here (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("beacon", *beacon, "out-dir", *dir); err != nil {
		return err
	}
	if err := checkBeaconFlag(*beacon); err != nil {
		return err
	}
	if *parties < 1 || *parties > zk.MaxTranscriptLen {
		return usageError{fmt.Errorf("-parties must be 1..%d", zk.MaxTranscriptLen)}
	}
	fmt.Fprintf(stdout, "running the whole ceremony with %d parties in this process: expect several minutes per predicate (docs/privacy-zk.md)\n", *parties)
	keys, err := zk.DevCeremony(*parties, []byte(*beacon))
	if err != nil {
		return err
	}
	for _, p := range zk.Predicates {
		if err := writeKeys(*dir, keys[p].Proving, keys[p].Verifying, stdout); err != nil {
			return err
		}
	}
	return nil
}

// insecureAck is the flag dev-insecure refuses to run without.
const insecureAck = "i-understand-these-keys-are-insecure"

func runZKSetupInsecure(args []string, stdout io.Writer) error {
	fs := newFlags("zk setup dev-insecure")
	pred := fs.String("predicate", "", "one predicate (default: all)")
	dir := fs.String("out-dir", "", "write the keys here (required)")
	ack := fs.Bool(insecureAck, false, "acknowledge that this process learns the setup secret and could forge any proof")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*ack {
		return usageError{fmt.Errorf("refusing: single-party keys let whoever made them forge proofs; pass -%s for tests and demos, use the ceremony otherwise", insecureAck)}
	}
	if err := requireFlags("out-dir", *dir); err != nil {
		return err
	}
	preds := zk.Predicates
	if *pred != "" {
		p, err := parsePredicateFlag(*pred)
		if err != nil {
			return err
		}
		preds = []zk.Predicate{p}
	}
	fmt.Fprintln(stdout, "WARNING: insecure single-party setup: never publish these keys on a production chain")
	for _, p := range preds {
		pk, vk, err := zk.InsecureSetup(p)
		if err != nil {
			return err
		}
		if err := writeKeys(*dir, pk, vk, stdout); err != nil {
			return err
		}
	}
	return nil
}
