package main

// Credential commands: an issuer signs locally and the federation confirms
// (vc issue); a holder presents (vc present); anyone verifies, online
// (vc check) or fully offline from a bundle (vc verify).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/identity/chainview"
	"github.com/polityledger/polity/identity/vc"
	"github.com/polityledger/polity/openapi"
)

// maxVCFile bounds a credential, presentation or bundle file.
const maxVCFile = 4 << 20

func readToken(path string) (string, error) {
	b, err := readBounded(path, maxVCFile)
	return strings.TrimSpace(string(b)), err
}

// writeBundle writes an API bundle as the vc.Bundle JSON `vc verify` reads.
func writeBundle(path string, b *openapi.IdentityBundle) error {
	vb := vc.Bundle{Version: b.Version, Credential: b.Credential, Suite: b.Suite, Header: b.Header, Commit: b.Commit, Validators: b.Validators}
	if b.Transitions != nil {
		vb.Transitions = *b.Transitions
	}
	for _, e := range b.State {
		pv := vc.ProvenValue{Key: e.Key, Proof: e.Proof}
		if e.Value != nil {
			pv.Value = *e.Value
		}
		vb.State = append(vb.State, pv)
	}
	raw, err := vb.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

func runVCIssue(args []string, stdout io.Writer) error {
	fs := newFlags("vc issue")
	u := fs.String("url", defaultURL, "node API URL")
	keyPath := fs.String("key", "polity-key.json", "the issuer's key file (signs locally)")
	issuer := fs.String("issuer", "", "issuer DID (required)")
	subject := fs.String("subject", "", "subject DID (required)")
	types := fs.String("type", "", "credential type(s), comma-separated (required)")
	claims := fs.String("claims", "{}", "credentialSubject claims (JSON object)")
	id := fs.String("id", "", "optional credential ID (a URI)")
	list := fs.String("status-list", "", "status list id of the issuer, or its full <issuer>/status/<id> URL (required)")
	index := fs.Int64("status-index", -1, "the credential's entry in the list (required)")
	purpose := fs.String("purpose", string(vc.PurposeRevocation), "status purpose: revocation or suspension")
	expires := fs.Duration("expires", 0, "validity period (0: no expiry)")
	out := fs.String("out", "", "write the credential JWT here (required)")
	bundleOut := fs.String("bundle", "", "also write its offline bundle here")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *issuer == "" || *subject == "" || *types == "" || *list == "" || *index < 0 || *out == "" {
		return usageError{errors.New("-issuer, -subject, -type, -status-list, -status-index and -out are required")}
	}
	var cl map[string]any
	if err := json.Unmarshal([]byte(*claims), &cl); err != nil {
		return usageError{fmt.Errorf("-claims: %w", err)}
	}
	listURL := *list
	if !strings.Contains(listURL, "/status/") {
		listURL = chainview.ListURL(*issuer, listURL)
	}
	k, err := loadKey(*keyPath)
	if err != nil {
		return err
	}
	c := newClient(*u)
	kid, err := methodOf(c, *issuer, k)
	if err != nil {
		return err
	}
	// Credentials carry whole seconds: a key added in this second would not
	// yet be valid at the truncated issuance time.
	_, v, err := resolve(c, *issuer, 0)
	if err != nil {
		return err
	}
	now := time.Now()
	if from := time.UnixMilli(int64(v.FromTime)); !now.Truncate(time.Second).After(from) {
		time.Sleep(time.Until(from.Truncate(time.Second).Add(time.Second)))
		now = time.Now()
	}
	req := &vc.IssueRequest{ID: *id, Types: strings.Split(*types, ","), Issuer: *issuer, KeyID: kid, Subject: *subject, Claims: cl,
		IssuedAt: now, Status: &vc.StatusEntry{Purpose: vc.Purpose(*purpose), ListID: listURL, Index: uint64(*index)}}
	if *expires > 0 {
		req.Expires = now.Add(*expires)
	}
	tok, err := vc.Issue(req, k.priv)
	if err != nil {
		return err
	}
	var res openapi.IdentityConfirmedCredential
	if _, err := c.do(context.Background(), "POST", "/v1/identity/credentials", openapi.IdentityCredentialRequest{Credential: tok}, &res); err != nil {
		return fmt.Errorf("the federation did not confirm the credential: %w", err)
	}
	if err := os.WriteFile(*out, []byte(tok+"\n"), 0o644); err != nil {
		return err
	}
	if *bundleOut != "" {
		if err := writeBundle(*bundleOut, &res.Bundle); err != nil {
			return err
		}
	}
	return printJSON(stdout, res.Credential)
}

func runVCPresent(args []string, stdout io.Writer) error {
	fs := newFlags("vc present")
	u := fs.String("url", defaultURL, "node API URL (to find the holder's current key method)")
	keyPath := fs.String("key", "polity-key.json", "the holder's key file")
	holder := fs.String("holder", "", "holder DID, the subject of every credential (required)")
	challenge := fs.String("challenge", "", "the verifier's challenge (required)")
	domain := fs.String("domain", "", "the verifier's domain (required)")
	ttl := fs.Duration("ttl", 10*time.Minute, "validity of the presentation (at most 1h)")
	out := fs.String("out", "", "write the presentation JWT here (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *holder == "" || *challenge == "" || *domain == "" || *out == "" || fs.NArg() == 0 {
		return usageError{errors.New("usage: polity vc present -holder DID -challenge C -domain D -out FILE CREDENTIAL [CREDENTIAL]")}
	}
	var creds []string
	for _, p := range fs.Args() {
		t, err := readToken(p)
		if err != nil {
			return err
		}
		creds = append(creds, t)
	}
	k, err := loadKey(*keyPath)
	if err != nil {
		return err
	}
	kid, err := methodOf(newClient(*u), *holder, k)
	if err != nil {
		return err
	}
	now := time.Now()
	tok, err := vc.Present(&vc.PresentRequest{Holder: *holder, KeyID: kid, Credentials: creds, Challenge: *challenge, Domain: *domain, IssuedAt: now, Expires: now.Add(*ttl)}, k.priv)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(tok+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d credential(s) presented by %s\n", *out, len(creds), *holder)
	return nil
}

func runVCBundle(args []string, stdout io.Writer) error {
	fs := newFlags("vc bundle")
	u := fs.String("url", defaultURL, "node API URL")
	out := fs.String("out", "", "write the bundle here (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 1 {
		return usageError{errors.New("usage: polity vc bundle -out FILE CREDENTIAL")}
	}
	tok, err := readToken(fs.Arg(0))
	if err != nil {
		return err
	}
	var b openapi.IdentityBundle
	if _, err := newClient(*u).do(context.Background(), "POST", "/v1/identity/credentials/bundle", openapi.IdentityCredentialRequest{Credential: tok}, &b); err != nil {
		return err
	}
	if err := writeBundle(*out, &b); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// invalidError is a verification verdict of "not valid".
type invalidError struct{ reason, detail string }

func (e invalidError) Error() string { return "INVALID (" + e.reason + "): " + e.detail }

func runVCCheck(args []string, stdout io.Writer) error {
	fs := newFlags("vc check")
	u := fs.String("url", defaultURL, "node API URL")
	challenge := fs.String("challenge", "", "check a presentation for this challenge (with -domain)")
	domain := fs.String("domain", "", "the verifier's domain")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (*challenge == "") != (*domain == "") {
		return usageError{errors.New("usage: polity vc check [-challenge C -domain D] FILE (a credential, or a presentation with -challenge)")}
	}
	tok, err := readToken(fs.Arg(0))
	if err != nil {
		return err
	}
	var res openapi.IdentityVerification
	c := newClient(*u)
	if *challenge != "" {
		_, err = c.do(context.Background(), "POST", "/v1/identity/presentations/verify", openapi.IdentityPresentationRequest{Presentation: tok, Challenge: *challenge, Domain: *domain}, &res)
	} else {
		_, err = c.do(context.Background(), "POST", "/v1/identity/credentials/verify", openapi.IdentityCredentialRequest{Credential: tok}, &res)
	}
	if err != nil {
		return err
	}
	if err := printJSON(stdout, res); err != nil {
		return err
	}
	if !res.Valid {
		e := invalidError{reason: "unknown"}
		if res.Reason != nil {
			e.reason = *res.Reason
		}
		if res.Detail != nil {
			e.detail = *res.Detail
		}
		return e
	}
	return nil
}

func runVCVerify(args []string, stdout io.Writer) error {
	fs := newFlags("vc verify")
	trust := fs.String("trust", "", "hash of the identity chain's validator set to trust (hex, required)")
	chainID := fs.String("chain", "identity", "identity chain ID the bundle must be from")
	maxAge := fs.Duration("max-age", 0, "refuse a bundle whose header is older than this (0: any age)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *trust == "" {
		return usageError{errors.New("usage: polity vc verify -trust HASH [-chain ID] [-max-age DUR] BUNDLE")}
	}
	h, err := crypto.ParseHash(*trust)
	if err != nil {
		return usageError{err}
	}
	raw, err := readBounded(fs.Arg(0), maxVCFile)
	if err != nil {
		return err
	}
	b, err := vc.ParseBundle(raw)
	if err != nil {
		return invalidError{reason: chainview.Reason(err), detail: err.Error()}
	}
	res, err := chainview.VerifyBundle(b, *chainID, h, time.Now(), *maxAge, time.Minute)
	if err != nil {
		return invalidError{reason: chainview.Reason(err), detail: err.Error()}
	}
	cr := res.Credential
	fmt.Fprintf(stdout, "OK: credential verifies offline\ntypes:    %s\nissuer:   %s\nsubject:  %s\nissued:   %s\nchain:    %s at height %d (header %s, %s)\n",
		strings.Join(cr.Types, ","), cr.Issuer, cr.Subject, cr.IssuedAt.Format(time.RFC3339), res.ChainID, res.Height, res.HeaderHash, res.HeaderTime.Format(time.RFC3339))
	claims, _ := json.Marshal(cr.Claims)
	fmt.Fprintf(stdout, "claims:   %s\n", claims)
	return nil
}
