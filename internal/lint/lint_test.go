// Package lint holds tests for rules the layout depends on: which packages
// may import what, and no wall clock in the deterministic core.
package lint

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/polityledger/polity"

type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", mod+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// TestImports: the chain core imports none of the layers above it, and each
// heavy dependency is imported by exactly the package that wraps it.
func TestImports(t *testing.T) {
	forbiddenInChain := []string{"net/http", mod + "/services", mod + "/node", mod + "/domains", mod + "/identity", mod + "/privacy", mod + "/openapi", mod + "/cmd"}
	owners := map[string][]string{ // dependency → the only packages allowed to import it
		"github.com/cockroachdb/pebble/v2":        {mod + "/chain/ledger", mod + "/chain/ledger/raftlog"},
		"github.com/emmansun/gmsm":                {mod + "/chain/crypto/sm2sm3"},
		"filippo.io/edwards25519":                 {mod + "/chain/crypto/ed25519sha256"},
		"github.com/oasisprotocol/curve25519-voi": {mod + "/chain/crypto/ed25519sha256"},
		"github.com/go-chi/chi/v5":                {mod + "/services", mod + "/openapi"},
		"github.com/getkin/kin-openapi":           {mod + "/services", mod + "/openapi"},
		"github.com/oapi-codegen":                 {mod + "/services", mod + "/openapi"},
		"github.com/klauspost/compress":           {mod + "/chain/ledger"},
		"github.com/tuneinsight/lattigo":          {mod + "/privacy/he"},
		// aries' data models, and json-gold for its JSON-LD document loader interface.
		"github.com/hyperledger/aries-framework-go": {mod + "/identity/did", mod + "/identity/vc"},
		"github.com/piprate/json-gold":              {mod + "/identity/vc"},
		"github.com/hashicorp/raft":                 {mod + "/chain/consensus/raft", mod + "/chain/ledger/raftlog"},
		"github.com/consensys/gnark":                {mod + "/privacy/zk"},
		"github.com/consensys/gnark-crypto":         {mod + "/privacy/zk"},
	}
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if under(p.ImportPath, mod+"/chain") {
				for _, f := range forbiddenInChain {
					if under(imp, f) {
						t.Errorf("%s imports %s: the chain core must not depend on it", p.ImportPath, imp)
					}
				}
			}
			for dep, allowed := range owners {
				if !under(imp, dep) {
					continue
				}
				ok := false
				for _, a := range allowed {
					ok = ok || p.ImportPath == a
				}
				if !ok {
					t.Errorf("%s imports %s; only %v may", p.ImportPath, imp, allowed)
				}
			}
		}
	}
}

// TestTestSupportOnlyInTests: packages that exist for tests (the consensus
// engines' simulated network and cluster harness) are imported by test
// files only, never by code that ships.
func TestTestSupportOnlyInTests(t *testing.T) {
	testOnly := []string{mod + "/chain/consensus/simnet"}
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			for _, only := range testOnly {
				if under(imp, only) {
					t.Errorf("%s imports %s, which only tests may import", p.ImportPath, imp)
				}
			}
		}
	}
}

// TestNoWallClock: the deterministic core never reads the wall clock or
// global randomness; time comes from block headers.
func TestNoWallClock(t *testing.T) {
	core := []string{"/chain", "/chain/codec", "/chain/exec", "/chain/module", "/chain/smt", "/chain/merkle", "/chain/proof", "/domains", "/identity/did", "/identity/registry", "/identity/vc"}
	banned := map[string]map[string]bool{
		"time":      {"Now": true, "Since": true, "Until": true},
		"math/rand": nil, "math/rand/v2": nil, "crypto/rand": nil, "os": nil, "net": nil,
	}
	for _, p := range listPackages(t) {
		inCore := false
		for _, c := range core {
			inCore = inCore || p.ImportPath == mod+c || (c == "/domains" && under(p.ImportPath, mod+c))
		}
		if !inCore {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]string{}
			for _, imp := range file.Imports {
				ip := strings.Trim(imp.Path.Value, `"`)
				if fns, ok := banned[ip]; ok && fns == nil {
					t.Errorf("%s imports %s in the deterministic core", path, ip)
				}
				name := filepath.Base(ip)
				if imp.Name != nil {
					name = imp.Name.Name
				}
				names[name] = ip
			}
			full, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(full, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok {
					if fns := banned[names[id.Name]]; fns[sel.Sel.Name] {
						t.Errorf("%s uses %s.%s in the deterministic core", path, id.Name, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
}
