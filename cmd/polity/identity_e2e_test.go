package main

// The issue-5 scenario end to end, through the CLI and the HTTP API of one
// devnet: the operator appoints a civil-affairs and an education authority,
// civil affairs registers a citizen, both issue credentials with status
// entries, the citizen presents them, a third party verifies them through
// the API and fully offline; a revocation and a key rotation then change
// the verdicts as they must.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/identity/chainview"
	"github.com/polityledger/polity/identity/vc"
)

var registeredLine = regexp.MustCompile(`registered (did:polity:[0-9a-f]{32})`)

func registeredDID(t *testing.T, out string) string {
	t.Helper()
	m := registeredLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no DID in output:\n%s", out)
	}
	return m[1]
}

// polityFail runs the CLI expecting a non-zero exit and returns stderr.
func polityFail(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := polityRun(args...)
	if code == 0 {
		t.Fatalf("polity %s succeeded, want failure:\n%s", strings.Join(args, " "), out)
	}
	return errOut
}

func apiPost(t *testing.T, url, path string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	resp, err := http.Post(url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

func apiGet(t *testing.T, url, path string, out any) int {
	t.Helper()
	resp, err := http.Get(url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

type verdictView struct {
	Valid  bool   `json:"valid"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	Holder string `json:"holder"`
}

func TestIdentityScenario(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDevnet(t, data)
	u := d.url
	op := filepath.Join(data, "operator.json")
	k := func(name string) string {
		p := filepath.Join(dir, name+".json")
		polity(t, "keys", "new", "--out", p)
		return p
	}
	civilKey, eduKey, eduKey2, citizenKey := k("civil"), k("edu"), k("edu2"), k("citizen")
	// w runs a two-word command against the devnet.
	w := func(args ...string) string {
		return polity(t, append([]string{args[0], args[1], "--url", u}, args[2:]...)...)
	}

	// The operator (genesis admin, a key DID) appoints the authorities.
	w("roles", "grant", "--key", op, "--holder", keyDIDOf(t, op), "--role", "registrar", "--scope", "identity/did/*")
	civil := registeredDID(t, w("did", "register", "--key", op, "--subject-key", civilKey, "--type", "organisation", "--attr", "name=Civil Affairs"))
	edu := registeredDID(t, w("did", "register", "--key", op, "--subject-key", eduKey, "--type", "organisation", "--attr", "name=Education"))
	w("roles", "grant", "--key", op, "--holder", civil, "--role", "registrar", "--scope", "identity/did/register")
	w("trust", "set", "--key", op, "--issuer", civil, "--type", "CitizenID")
	w("trust", "set", "--key", op, "--issuer", edu, "--type", "Diploma")
	// Calling the API's identity writes takes writer for the transaction's
	// scope, granted explicitly; the modules' rules then judge the signer.
	// Without it, civil affairs' status list is refused before any block.
	if e := polityFail(t, "status", "create", "--url", u, "--key", civilKey, "--as", civil, "--id", "citizens", "--type", "CitizenID"); !strings.Contains(e, "403") || !strings.Contains(e, "(forbidden)") {
		t.Fatalf("status.create without writer: %s", e)
	}
	for _, g := range [][2]string{
		{civil, "identity/did/register"}, {civil, "identity/status/create"},
		{edu, "identity/status/*"}, {edu, "identity/did/update"},
	} {
		w("roles", "grant", "--key", op, "--holder", g[0], "--role", "writer", "--scope", g[1])
	}
	// Civil affairs holds no writer for trust.set: 403.
	if e := polityFail(t, "trust", "set", "--url", u, "--key", civilKey, "--as", civil, "--issuer", civil, "--type", "Diploma"); !strings.Contains(e, "(forbidden)") {
		t.Fatalf("trust.set without writer: %s", e)
	}
	// Relayed by the operator (an admin, so a writer everywhere), the same
	// transaction reaches a block and fails there: the CLI fails with the reason.
	if e := polityFail(t, "trust", "set", "--url", u, "--key", civilKey, "--as", civil, "--auth-key", op, "--issuer", civil, "--type", "Diploma"); !strings.Contains(e, "not an admin") {
		t.Fatalf("non-admin trust.set: %s", e)
	}
	w("status", "create", "--key", civilKey, "--as", civil, "--id", "citizens", "--type", "CitizenID")
	w("status", "create", "--key", eduKey, "--as", edu, "--id", "diplomas", "--type", "Diploma")

	// Civil affairs registers the citizen (authority: its own DID).
	citizen := registeredDID(t, w("did", "register", "--key", civilKey, "--as", civil, "--subject-key", citizenKey, "--type", "person"))
	var res struct {
		Version     uint64         `json:"version"`
		Deactivated bool           `json:"deactivated"`
		Document    map[string]any `json:"document"`
		Height      uint64         `json:"height"`
		FromTime    uint64         `json:"from_time"`
	}
	proofFile := filepath.Join(dir, "citizen.proof")
	if err := json.Unmarshal([]byte(w("did", "resolve", "--did", citizen, "--proof", proofFile)), &res); err != nil {
		t.Fatal(err)
	}
	if res.Version != 1 || res.Deactivated || res.Document["id"] != citizen {
		t.Fatalf("resolve: %+v", res)
	}
	if out := polity(t, "proof", "verify", proofFile); !strings.Contains(out, "OK") {
		t.Fatalf("resolution proof: %s", out)
	}

	// Both authorities issue: signed locally, confirmed by the federation.
	idCred, diploma := filepath.Join(dir, "id.jwt"), filepath.Join(dir, "diploma.jwt")
	w("vc", "issue", "--key", civilKey, "--issuer", civil, "--subject", citizen, "--type", "CitizenID",
		"--claims", `{"name":"Ada Citizen","birthYear":1990}`, "--status-list", "citizens", "--status-index", "3", "--out", idCred)
	diplomaBundle := filepath.Join(dir, "diploma.bundle")
	w("vc", "issue", "--key", eduKey, "--issuer", edu, "--subject", citizen, "--type", "Diploma",
		"--claims", `{"degree":"BSc Physics"}`, "--status-list", "diplomas", "--status-index", "7", "--out", diploma, "--bundle", diplomaBundle)
	// An issuer may not use a list that is not its own.
	if e := polityFail(t, "vc", "issue", "--url", u, "--key", eduKey, "--issuer", edu, "--subject", citizen, "--type", "Diploma",
		"--status-list", chainview.ListURL(civil, "citizens"), "--status-index", "1", "--out", filepath.Join(dir, "x.jwt")); !strings.Contains(e, "credential_unconfirmable") {
		t.Fatalf("foreign status list: %s", e)
	}

	// The citizen presents both to a third party, who verifies through the API.
	pres := filepath.Join(dir, "pres.jwt")
	w("vc", "present", "--key", citizenKey, "--holder", citizen, "--challenge", "nonce-1", "--domain", "bank.example", "--out", pres, idCred, diploma)
	if out := w("vc", "check", "--challenge", "nonce-1", "--domain", "bank.example", pres); !strings.Contains(out, `"valid": true`) {
		t.Fatalf("presentation check: %s", out)
	}
	if e := polityFail(t, "vc", "check", "--url", u, "--challenge", "nonce-2", "--domain", "bank.example", pres); !strings.Contains(e, "challenge_mismatch") {
		t.Fatalf("wrong challenge: %s", e)
	}

	// ... and offline, pinning the identity chain's validator set.
	var blk struct {
		Header struct {
			ValidatorsHash string `json:"validators_hash"`
		} `json:"header"`
	}
	apiGet(t, u, "/v1/chains/identity/blocks/0", &blk)
	trust := blk.Header.ValidatorsHash
	idBundle := filepath.Join(dir, "id.bundle")
	w("vc", "bundle", "--out", idBundle, idCred)
	for _, b := range []string{idBundle, diplomaBundle} {
		if out := polity(t, "vc", "verify", "--trust", trust, b); !strings.Contains(out, "OK") {
			t.Fatalf("offline verify %s: %s", b, out)
		}
	}
	if e := polityFail(t, "vc", "verify", "--trust", strings.Repeat("ab", 32), idBundle); !strings.Contains(e, "bundle_invalid") {
		t.Fatalf("untrusted validator set: %s", e)
	}

	// A second diploma, issued before the key rotation below.
	diploma2 := filepath.Join(dir, "diploma2.jwt")
	w("vc", "issue", "--key", eduKey, "--issuer", edu, "--subject", citizen, "--type", "Diploma",
		"--claims", `{"degree":"MSc Physics"}`, "--status-list", "diplomas", "--status-index", "8", "--out", diploma2)

	// Education revokes the first diploma: both verifications now fail with the reason.
	w("status", "set", "--key", eduKey, "--as", edu, "--id", "diplomas", "--index", "7", "--action", "revoke")
	if e := polityFail(t, "vc", "check", "--url", u, "--challenge", "nonce-1", "--domain", "bank.example", pres); !strings.Contains(e, "INVALID (revoked)") {
		t.Fatalf("presentation after revocation: %s", e)
	}
	revokedBundle := filepath.Join(dir, "revoked.bundle")
	w("vc", "bundle", "--out", revokedBundle, diploma)
	if e := polityFail(t, "vc", "verify", "--trust", trust, revokedBundle); !strings.Contains(e, "INVALID (revoked)") {
		t.Fatalf("offline after revocation: %s", e)
	}
	var st struct {
		Set bool `json:"set"`
	}
	apiGet(t, u, "/v1/identity/status?index=7&list="+chainview.ListURL(edu, "diplomas"), &st)
	if !st.Set {
		t.Fatal("status entry 7 not set after revocation")
	}

	// Education rotates its key.
	w("did", "update", "--key", eduKey, "--did", edu, "--rotate", eduKey2)
	if err := json.Unmarshal([]byte(w("did", "resolve", "--did", edu)), &res); err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 {
		t.Fatalf("after rotation: version %d", res.Version)
	}
	// Credentials carry whole seconds: wait until one signed now is clearly after the rotation.
	rotated := time.UnixMilli(int64(res.FromTime))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Truncate(time.Second).Before(rotated.Add(time.Second)); {
		if time.Now().After(deadline) {
			t.Fatal("clock did not pass the rotation")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The diploma signed before the rotation still verifies, online and offline.
	var v verdictView
	if apiPost(t, u, "/v1/identity/credentials/verify", map[string]string{"credential": readTok(t, diploma2)}, &v); !v.Valid {
		t.Fatalf("pre-rotation diploma: %+v", v)
	}
	d2Bundle := filepath.Join(dir, "d2.bundle")
	w("vc", "bundle", "--out", d2Bundle, diploma2)
	polity(t, "vc", "verify", "--trust", trust, d2Bundle)
	// The CLI will not sign with a rotated-out key ...
	polityFail(t, "vc", "issue", "--url", u, "--key", eduKey, "--issuer", edu, "--subject", citizen, "--type", "Diploma",
		"--status-list", "diplomas", "--status-index", "9", "--out", filepath.Join(dir, "y.jwt"))
	// ... and a credential a thief signs with it now fails everywhere.
	_, old, err := keyfile.Load(eduKey)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := vc.Issue(&vc.IssueRequest{Types: []string{"Diploma"}, Issuer: edu, KeyID: edu + "#key-1", Subject: citizen,
		Claims: map[string]any{"degree": "PhD"}, IssuedAt: time.Now(),
		Status: &vc.StatusEntry{Purpose: vc.PurposeRevocation, ListID: chainview.ListURL(edu, "diplomas"), Index: 9}}, old)
	if err != nil {
		t.Fatal(err)
	}
	if apiPost(t, u, "/v1/identity/credentials/verify", map[string]string{"credential": forged}, &v); v.Valid || v.Reason != "unknown_key" {
		t.Fatalf("forged with rotated-out key: %+v", v)
	}
	var p struct {
		Code string `json:"code"`
	}
	if code := apiPost(t, u, "/v1/identity/credentials", map[string]string{"credential": forged}, &p); code != http.StatusUnprocessableEntity || p.Code != "credential_unknown_key" {
		t.Fatalf("confirm forged: %d %s", code, p.Code)
	}
	forgedFile, forgedBundle := filepath.Join(dir, "forged.jwt"), filepath.Join(dir, "forged.bundle")
	if err := os.WriteFile(forgedFile, []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	w("vc", "bundle", "--out", forgedBundle, forgedFile)
	if e := polityFail(t, "vc", "verify", "--trust", trust, forgedBundle); !strings.Contains(e, "INVALID (unknown_key)") {
		t.Fatalf("offline forged: %s", e)
	}
	// Resolving at a height before the rotation gives the first version.
	if err := json.Unmarshal([]byte(w("did", "resolve", "--did", edu, "--height", strconv.FormatUint(res.Height-1, 10))), &res); err != nil {
		t.Fatal(err)
	}
	if res.Version != 1 {
		t.Fatalf("resolve before rotation: version %d", res.Version)
	}
}

func keyDIDOf(t *testing.T, path string) string {
	t.Helper()
	out := polity(t, "keys", "show", "--key", path)
	for _, l := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(l, "sender:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(s), "#key-0")
		}
	}
	t.Fatalf("no sender in %s", out)
	return ""
}

func readTok(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
