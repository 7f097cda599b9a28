package main

// Identity-chain commands: DIDs, roles, trust and status lists. Every write
// is a transaction signed here with the caller's key file and sent to the
// typed /v1/identity endpoint in a request signed (RFC 9421) as the acting
// DID, or with -auth-key; the node holds no one's key.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/identity/chainview"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
)

// identityFlags are the flags every identity write takes.
type identityFlags struct {
	url, chain, key, as *string
	wait                *time.Duration
	// authKey and authKeyID sign the HTTP request (RFC 9421); by default
	// the actor signs it with -key (requestSigner).
	authKey, authKeyID *string
}

func addIdentityFlags(fs *flag.FlagSet, keyHelp string) identityFlags {
	return identityFlags{
		url:   fs.String("url", defaultURL, "node API URL"),
		chain: fs.String("chain", "identity", "identity chain ID"),
		key:   fs.String("key", "polity-key.json", keyHelp),
		as:    fs.String("as", "", "DID the key acts as (default: the key's own key DID)"),
		wait:  fs.Duration("wait", 30*time.Second, "how long to wait for the commit (at most 60s)"),
		authKey: fs.String("auth-key", "", "key file that signs the API request (default: -key, as the DID the transaction acts for); "+
			"its DID needs writer or admin for identity/<module>/<method>, e.g. a gateway relaying others' transactions"),
		authKeyID: fs.String("auth-keyid", "", "DID URL of the request signer's method (default: with -auth-key, its own key DID; "+
			"otherwise the acting DID's method holding -key)"),
	}
}

// key is a loaded key file.
type key struct {
	suite crypto.Suite
	priv  crypto.PrivateKey
	pub   []byte
}

func loadKey(path string) (*key, error) {
	s, k, err := keyfile.Load(path)
	if err != nil {
		return nil, err
	}
	return &key{suite: s, priv: k, pub: k.Public().Bytes()}, nil
}

func (k *key) keyDID() string { return did.KeyDID(chain.AddressOf(k.suite, k.pub)).String() }

// requestSigner returns who signs the HTTP request of an identity write:
// -auth-key as -auth-keyid (default its key DID) when given, otherwise k
// as actor (the DID the transaction acts for; empty: k's key DID), by the
// actor's verification method holding k, or -auth-keyid. The node checks
// that DID holds writer or admin for the transaction's scope.
func requestSigner(c *client, f identityFlags, k *key, actor string) (*authKey, error) {
	if *f.authKey != "" {
		return loadAuthKey(*f.authKey, *f.authKeyID)
	}
	keyid := *f.authKeyID
	if keyid == "" {
		if actor == "" {
			actor = k.keyDID()
		}
		var err error
		if keyid, err = methodOf(c, actor, k); err != nil {
			return nil, fmt.Errorf("signing the request as %s: %w (give -auth-key or -auth-keyid)", actor, err)
		}
	}
	return &authKey{suite: k.suite, key: k.priv, keyid: keyid}, nil
}

// submitIdentity signs module.method(args) with the key and posts it to the
// identity endpoint path, waiting for the receipt; the request is signed
// by requestSigner for actor. A committed but failed call is an error
// carrying the receipt's reason.
func submitIdentity(f identityFlags, path, mod, method, actor string, args any, stdout io.Writer) (*openapi.IdentityWriteResult, error) {
	if *f.wait > 60*time.Second || *f.wait < 0 {
		return nil, usageError{errors.New("-wait must be within 0..60s")}
	}
	k, err := loadKey(*f.key)
	if err != nil {
		return nil, err
	}
	c := newClient(*f.url)
	if c.auth, err = requestSigner(c, f, k, actor); err != nil {
		return nil, err
	}
	ctx := context.Background()
	tx, err := signNext(ctx, c, k, *f.chain, mod, method, args)
	if err != nil {
		return nil, err
	}
	var out openapi.IdentityWriteResult
	if _, err := c.do(ctx, "POST", fmt.Sprintf("%s?wait=%d", path, int(f.wait.Seconds())), openapi.SubmitRequest{Tx: tx.Encode()}, &out); err != nil {
		return nil, err
	}
	if err := printJSON(stdout, out); err != nil {
		return nil, err
	}
	if out.Receipt != nil && out.Receipt.Status != openapi.ReceiptStatusOk {
		reason := "failed"
		if out.Receipt.Error != nil {
			reason = *out.Receipt.Error
		}
		return &out, fmt.Errorf("%s.%s committed at height %d but failed: %s", mod, method, *out.Height, reason)
	}
	return &out, nil
}

// resolve fetches a DID's resolution (height 0: latest).
func resolve(c *client, d string, height uint64) (*openapi.IdentityResolution, *registry.Version, error) {
	path := "/v1/identity/dids/" + url.PathEscape(d)
	if height > 0 {
		path += "?height=" + strconv.FormatUint(height, 10)
	}
	var res openapi.IdentityResolution
	if _, err := c.do(context.Background(), "GET", path, nil, &res); err != nil {
		return nil, nil, err
	}
	v, err := registry.DecodeVersion(res.Value)
	if err != nil {
		return nil, nil, err
	}
	if v.Doc.ID != d || v.Number != res.Version {
		return nil, nil, fmt.Errorf("node answered version %d of %s for %s", v.Number, v.Doc.ID, d)
	}
	return &res, v, nil
}

// methodOf returns the DID URL of d's current verification method whose
// key is pub: for a key DID, its #key-0.
func methodOf(c *client, d string, k *key) (string, error) {
	id, err := did.Parse(d)
	if err != nil {
		return "", usageError{err}
	}
	if id.Kind == did.KindKey {
		if d != k.keyDID() {
			return "", fmt.Errorf("the key is not %s's", d)
		}
		return d + "#" + did.KeyFragment, nil
	}
	_, v, err := resolve(c, d, 0)
	if err != nil {
		return "", err
	}
	if v.Deactivated {
		return "", fmt.Errorf("%s is deactivated", d)
	}
	for _, vm := range v.Doc.VerificationMethods {
		if bytes.Equal(vm.PublicKey, k.pub) {
			return d + "#" + vm.ID, nil
		}
	}
	return "", fmt.Errorf("the key is not a current verification method of %s", d)
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runDIDRegister(args []string, stdout io.Writer) error {
	fs := newFlags("did register")
	f := addIdentityFlags(fs, "the registering authority's key (signs the claim and the transaction)")
	subjectKey := fs.String("subject-key", "", "the subject's key file: its first verification method (required)")
	typ := fs.String("type", "", "person, device, organisation or subchain (required)")
	controller := fs.String("controller", "", "optional controller DID")
	var attrs multiFlag
	fs.Var(&attrs, "attr", "attribute name=value (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *subjectKey == "" || *typ == "" {
		return usageError{errors.New("-subject-key and -type are required")}
	}
	auth, err := loadKey(*f.key)
	if err != nil {
		return err
	}
	subj, err := loadKey(*subjectKey)
	if err != nil {
		return err
	}
	if subj.suite.Name() != auth.suite.Name() {
		return usageError{errors.New("the subject's and the authority's keys are of different suites")}
	}
	as := *f.as
	if as == "" {
		as = auth.keyDID()
	}
	authority, err := methodOf(newClient(*f.url), as, auth)
	if err != nil {
		return err
	}
	doc := &did.Document{
		ID: did.Derive(subj.suite, subj.pub).String(), Type: did.Type(*typ), Controller: *controller,
		VerificationMethods: []did.VerificationMethod{{ID: "key-1", Type: did.KeyType(subj.suite.Name()), PublicKey: subj.pub}},
		Authority:           authority,
	}
	if strings.HasSuffix(authority, "#"+did.KeyFragment) && as == auth.keyDID() {
		doc.AuthorityKey = auth.pub
	}
	for _, a := range attrs {
		name, value, ok := strings.Cut(a, "=")
		if !ok {
			return usageError{fmt.Errorf("-attr %q is not name=value", a)}
		}
		if doc.Attributes == nil {
			doc.Attributes = map[string]string{}
		}
		doc.Attributes[name] = value
	}
	if err := doc.SignClaim(auth.priv); err != nil {
		return err
	}
	if err := doc.Validate(); err != nil {
		return usageError{err}
	}
	regSig, err := doc.SignRegistration(subj.priv)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if _, err := submitIdentity(f, "/v1/identity/dids", registry.DIDModule, "register", as, registry.RegisterArgs{Document: raw, RegistrationSig: regSig}, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registered %s (method %s#key-1)\n", doc.ID, doc.ID)
	return nil
}

func runDIDUpdate(args []string, stdout io.Writer) error {
	fs := newFlags("did update")
	f := addIdentityFlags(fs, "a current key of the DID (or of its controller, with -as)")
	d := fs.String("did", "", "the DID to update (required)")
	rotate := fs.String("rotate", "", "key file of a new key: replaces every current verification method")
	add := fs.String("add-key", "", "key file of a key to add as a new verification method")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *d == "" || (*rotate == "") == (*add == "") {
		return usageError{errors.New("-did and exactly one of -rotate or -add-key are required")}
	}
	_, v, err := resolve(newClient(*f.url), *d, 0)
	if err != nil {
		return err
	}
	nk, err := loadKey(*rotate + *add)
	if err != nil {
		return err
	}
	next := 1
	for _, vm := range v.Doc.VerificationMethods {
		if n, err := strconv.Atoi(strings.TrimPrefix(vm.ID, "key-")); err == nil && n >= next {
			next = n + 1
		}
	}
	vm := did.VerificationMethod{ID: "key-" + strconv.Itoa(next), Type: did.KeyType(nk.suite.Name()), PublicKey: nk.pub}
	doc := v.Doc
	if *rotate != "" {
		doc.VerificationMethods = []did.VerificationMethod{vm}
	} else {
		doc.VerificationMethods = append(doc.VerificationMethods, vm)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if _, err := submitIdentity(f, "/v1/identity/dids/"+url.PathEscape(*d)+"/update", registry.DIDModule, "update", cmp.Or(*f.as, *d), registry.UpdateArgs{Document: raw, As: *f.as}, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "updated %s: new method %s#%s\n", *d, *d, vm.ID)
	return nil
}

func runDIDDeactivate(args []string, stdout io.Writer) error {
	fs := newFlags("did deactivate")
	f := addIdentityFlags(fs, "a current key of the DID, its controller or a registrar (with -as)")
	d := fs.String("did", "", "the DID to deactivate (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *d == "" {
		return usageError{errors.New("-did is required")}
	}
	_, err := submitIdentity(f, "/v1/identity/dids/"+url.PathEscape(*d)+"/deactivate", registry.DIDModule, "deactivate", cmp.Or(*f.as, *d), registry.DeactivateArgs{DID: *d, As: *f.as}, stdout)
	return err
}

func runDIDResolve(args []string, stdout io.Writer) error {
	fs := newFlags("did resolve")
	u := fs.String("url", defaultURL, "node API URL")
	d := fs.String("did", "", "the DID (required)")
	height := fs.Uint64("height", 0, "resolve the version current after this block (0: latest)")
	proofOut := fs.String("proof", "", "write the state proof of the version to this file (polity proof verify)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *d == "" {
		return usageError{errors.New("-did is required")}
	}
	res, _, err := resolve(newClient(*u), *d, *height)
	if err != nil {
		return err
	}
	if *proofOut != "" {
		if err := os.WriteFile(*proofOut, res.Proof, 0o644); err != nil {
			return err
		}
	}
	return printJSON(stdout, res)
}

func parseScope(s string) (registry.Scope, error) {
	p := strings.Split(s, "/")
	if len(p) != 3 {
		return registry.Scope{}, usageError{fmt.Errorf("-scope %q is not chain/module/method", s)}
	}
	sc := registry.Scope{Chain: p[0], Module: p[1], Method: p[2]}
	if !sc.Valid() {
		return registry.Scope{}, usageError{fmt.Errorf("-scope %q: each part must be a name or *", s)}
	}
	return sc, nil
}

func runRoles(method string) func([]string, io.Writer) error {
	return func(args []string, stdout io.Writer) error {
		fs := newFlags("roles " + method)
		f := addIdentityFlags(fs, "an admin's key")
		holder := fs.String("holder", "", "the DID receiving or losing the role (required)")
		role := fs.String("role", "", "role name, e.g. registrar (required)")
		scope := fs.String("scope", "", "chain/module/method, each part a name or * (required)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *holder == "" || *role == "" || *scope == "" {
			return usageError{errors.New("-holder, -role and -scope are required")}
		}
		sc, err := parseScope(*scope)
		if err != nil {
			return err
		}
		_, err = submitIdentity(f, "/v1/identity/roles/"+method, registry.RolesModule, method, *f.as, registry.GrantArgs{Holder: *holder, Role: *role, Scope: sc, As: *f.as}, stdout)
		return err
	}
}

func runTrust(method string) func([]string, io.Writer) error {
	return func(args []string, stdout io.Writer) error {
		fs := newFlags("trust " + method)
		f := addIdentityFlags(fs, "an admin's key")
		issuer := fs.String("issuer", "", "issuer DID (required)")
		typ := fs.String("type", "", "credential type (required)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *issuer == "" || *typ == "" {
			return usageError{errors.New("-issuer and -type are required")}
		}
		_, err := submitIdentity(f, "/v1/identity/trust/"+method, registry.TrustModule, method, *f.as, registry.TrustArgs{Issuer: *issuer, CredentialType: *typ, As: *f.as}, stdout)
		return err
	}
}

func runStatusCreate(args []string, stdout io.Writer) error {
	fs := newFlags("status create")
	f := addIdentityFlags(fs, "a key of the issuer (its DID with -as)")
	id := fs.String("id", "", "list id, unique per issuer (required)")
	purpose := fs.String("purpose", registry.PurposeRevocation, "revocation or suspension")
	size := fs.Uint64("size", registry.MinListBits, "entries (a multiple of 4096, at least 131072)")
	typ := fs.String("type", "", "credential type the list is for; the issuer must be trusted for it (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *typ == "" {
		return usageError{errors.New("-id and -type are required")}
	}
	if _, err := submitIdentity(f, "/v1/identity/status/create", registry.StatusModule, "create", *f.as, registry.CreateArgs{ID: *id, Purpose: *purpose, Size: *size, CredentialType: *typ, As: *f.as}, stdout); err != nil {
		return err
	}
	issuer := *f.as
	if issuer == "" {
		k, err := loadKey(*f.key)
		if err != nil {
			return err
		}
		issuer = k.keyDID()
	}
	fmt.Fprintf(stdout, "status list %s\n", chainview.ListURL(issuer, *id))
	return nil
}

func runStatusSet(args []string, stdout io.Writer) error {
	fs := newFlags("status set")
	f := addIdentityFlags(fs, "a key of the list's issuer (its DID with -as)")
	id := fs.String("id", "", "list id (required)")
	index := fs.Int64("index", -1, "entry index (required)")
	action := fs.String("action", "", "revoke, suspend or unsuspend (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *index < 0 || *action == "" {
		return usageError{errors.New("-id, -index and -action are required")}
	}
	_, err := submitIdentity(f, "/v1/identity/status/set", registry.StatusModule, "set", *f.as, registry.SetArgs{ID: *id, Index: uint64(*index), Action: *action, As: *f.as}, stdout)
	return err
}
