package main

// Zero-knowledge predicate proofs (privacy/zk) through the CLI: issuers
// make a BN254 key (zk issuer-key), publish it and admins publish the
// ceremony's verifying keys (zk publish), issuers sign attribute
// commitments for holders (zk issue), verifiers take a challenge from a
// node (zk challenge), holders prove (zk prove) and anyone verifies, through
// a node (POST /v1/zk/verify) or offline with a key file (zk verify).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/polityledger/polity/identity/chainview"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
	"github.com/polityledger/polity/privacy/zk"
)

// maxZKJSON bounds the small JSON files of this command (keys,
// credentials, challenges, presentations).
const maxZKJSON = 64 << 10

// File type tags.
const (
	zkIssuerKeyType  = "polity-zk-issuer-key"
	zkCredentialType = "polity-zk-credential"
)

// zkIssuerKeyFile is an issuer's BN254 signing key. Secret.
type zkIssuerKeyFile struct {
	Type    string `json:"type"`
	Public  string `json:"public"`  // hex, zk.IssuerPublicKey
	Private string `json:"private"` // hex, zk.IssuerKey.MarshalBinary
}

// zkCredentialFile is what the holder keeps: the opening of the issuer's
// commitment and the signature. Secret (it holds the attributes).
type zkCredentialFile struct {
	Type        string `json:"type"`
	Issuer      string `json:"issuer"`
	Holder      string `json:"holder"`
	StatusList  string `json:"status_list"`
	StatusIndex uint32 `json:"status_index"`
	Credential  string `json:"credential"` // hex, zk.Credential.MarshalBinary
	Signed      string `json:"signed"`     // hex, zk.SignedCommitment.MarshalBinary
}

func readJSONFile(path string, v any) error {
	b, err := readBounded(path, maxZKJSON)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSONFile(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), mode)
}

func loadIssuerKey(path string) (*zk.IssuerKey, error) {
	var f zkIssuerKeyFile
	if err := readJSONFile(path, &f); err != nil {
		return nil, err
	}
	if f.Type != zkIssuerKeyType {
		return nil, fmt.Errorf("%s is not a zk issuer key file", path)
	}
	raw, err := hex.DecodeString(f.Private)
	if err != nil {
		return nil, fmt.Errorf("%s: private: %w", path, err)
	}
	k, err := zk.ParseIssuerKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if pub := k.Public(); hex.EncodeToString(pub[:]) != f.Public {
		return nil, fmt.Errorf("%s: public key does not match the private key", path)
	}
	return k, nil
}

func runZKIssuerKey(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "new" && args[0] != "show") {
		return usageError{errors.New("usage: polity zk issuer-key new -out FILE | show -key FILE")}
	}
	fs := newFlags("zk issuer-key " + args[0])
	if args[0] == "show" {
		path := fs.String("key", "", "issuer key file (required)")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := requireFlags("key", *path); err != nil {
			return err
		}
		k, err := loadIssuerKey(*path)
		if err != nil {
			return err
		}
		pub := k.Public()
		fmt.Fprintf(stdout, "public: %x\n", pub[:])
		return nil
	}
	out := fs.String("out", "", "write the new key here, mode 0600 (required)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := requireFlags("out", *out); err != nil {
		return err
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists: refusing to overwrite a key", *out)
	}
	k, err := zk.GenerateIssuerKey(rand.Reader)
	if err != nil {
		return err
	}
	priv, err := k.MarshalBinary()
	if err != nil {
		return err
	}
	pub := k.Public()
	if err := writeJSONFile(*out, zkIssuerKeyFile{Type: zkIssuerKeyType, Public: hex.EncodeToString(pub[:]), Private: hex.EncodeToString(priv)}, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "public: %x\nwrote %s (keep it secret; publish the public key with polity zk publish --issuer-key)\n", pub[:], *out)
	return nil
}

func runZKPublish(args []string, stdout io.Writer) error {
	fs := newFlags("zk publish")
	f := addIdentityFlags(fs, "an admin's key (verifying keys) or the issuer's key (issuer key)")
	var vks multiFlag
	fs.Var(&vks, "vk", "a verifying key file <predicate>.vk to publish (repeatable; admin)")
	ikPath := fs.String("issuer-key", "", "an issuer key file whose public key to publish for the issuer DID (-as, or the key's own DID)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (len(vks) == 0) == (*ikPath == "") {
		return usageError{errors.New("give -vk files or -issuer-key, not both")}
	}
	if *ikPath != "" {
		ik, err := loadIssuerKey(*ikPath)
		if err != nil {
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
		pub := ik.Public()
		if _, err := submitIdentity(f, "/v1/zk/issuer-keys", registry.ZKKeysModule, registry.MethodSetIssuerKey, issuer,
			registry.SetIssuerKeyArgs{Issuer: issuer, Key: pub[:]}, stdout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "issuer key of %s: %x\n", issuer, pub[:])
		return nil
	}
	for _, path := range vks {
		b, err := readBounded(path, registry.MaxZKVerifyingKeyLen)
		if err != nil {
			return err
		}
		vk, err := zk.ParseVerifyingKey(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		h, err := vk.Hash()
		if err != nil {
			return err
		}
		if _, err := submitIdentity(f, "/v1/zk/verifying-keys", registry.ZKKeysModule, registry.MethodPublishVerifyingKey, *f.as,
			registry.PublishVerifyingKeyArgs{Predicate: vk.Predicate().String(), Key: b, As: *f.as}, stdout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "published %s verifying key %x\n", vk.Predicate(), h)
	}
	return nil
}

// parseAttr reads "-attr i=v": attribute index 1..7 and a uint64 value.
func parseAttr(s string) (int, uint64, error) {
	is, vs, ok := strings.Cut(s, "=")
	i, err1 := strconv.Atoi(is)
	v, err2 := strconv.ParseUint(vs, 10, 64)
	if !ok || err1 != nil || err2 != nil || i < 1 || i >= zk.NumAttributes {
		return 0, 0, usageError{fmt.Errorf("-attr %q: want INDEX=VALUE, index 1..%d, value a uint64", s, zk.NumAttributes-1)}
	}
	return i, v, nil
}

// fetchZKStatus fetches a whole status list and checks its root locally.
func fetchZKStatus(c *client, list string) (*openapi.ZkStatusList, *zk.StatusList, error) {
	var st openapi.ZkStatusList
	if _, err := c.do(context.Background(), "GET", "/v1/zk/status?list="+url.QueryEscape(list), nil, &st); err != nil {
		return nil, nil, fmt.Errorf("fetch status list: %w", err)
	}
	if uint64(len(st.Bits))*8 != st.Size {
		return nil, nil, fmt.Errorf("node sent %d bytes for a list of %d entries", len(st.Bits), st.Size)
	}
	sl, err := zk.NewStatusList(st.Bits)
	if err != nil {
		return nil, nil, err
	}
	if sl.Root().String() != st.StatusRoot {
		return nil, nil, fmt.Errorf("node's status root %s is not the root of the bits it sent (%s)", st.StatusRoot, sl.Root())
	}
	return &st, sl, nil
}

// publishedIssuerKey fetches the issuer's published BN254 key.
func publishedIssuerKey(c *client, issuer string) (zk.IssuerPublicKey, error) {
	var ik openapi.ZkIssuerKey
	if _, err := c.do(context.Background(), "GET", "/v1/zk/issuer-keys?did="+url.QueryEscape(issuer), nil, &ik); err != nil {
		return zk.IssuerPublicKey{}, fmt.Errorf("issuer key of %s: %w", issuer, err)
	}
	raw, err := hex.DecodeString(ik.Key)
	if err != nil {
		return zk.IssuerPublicKey{}, err
	}
	return zk.ParseIssuerPublicKey(raw)
}

func runZKIssue(args []string, stdout io.Writer) error {
	fs := newFlags("zk issue")
	u := fs.String("url", defaultURL, "node API URL")
	issuer := fs.String("issuer", "", "issuer DID (required)")
	ikPath := fs.String("issuer-key", "", "the issuer's zk key file; its public key must be published (required)")
	holder := fs.String("holder", "", "the holder's DID (required)")
	list := fs.String("status-list", "", "status list id of the issuer, or its <issuer>/status/<id> URL (required)")
	index := fs.Int64("status-index", -1, "the credential's entry in the list (required)")
	birth := fs.String("birth-date", "", "birth date YYYY-MM-DD (attribute 0; omit for credentials without one)")
	var attrs multiFlag
	fs.Var(&attrs, "attr", "attribute INDEX=VALUE, index 1..7, value a uint64 code from the credential type's schema (repeatable)")
	out := fs.String("out", "", "write the holder's credential file here, mode 0600 (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("issuer", *issuer, "issuer-key", *ikPath, "holder", *holder, "status-list", *list, "out", *out); err != nil {
		return err
	}
	if *index < 0 || *index >= zk.StatusCapacity {
		return usageError{fmt.Errorf("-status-index must be 0..%d", zk.StatusCapacity-1)}
	}
	if _, err := did.Parse(*holder); err != nil {
		return usageError{fmt.Errorf("-holder: %w", err)}
	}
	var a zk.Attributes
	if *birth != "" {
		t, err := time.Parse(time.DateOnly, *birth)
		if err != nil {
			return usageError{fmt.Errorf("-birth-date: %w", err)}
		}
		a[zk.AttrBirthDate] = zk.DateValue(t)
	}
	for _, s := range attrs {
		i, v, err := parseAttr(s)
		if err != nil {
			return err
		}
		a[i] = v
	}
	listURL := *list
	if !strings.Contains(listURL, "/status/") {
		listURL = chainview.ListURL(*issuer, listURL)
	}
	if li, _, err := chainview.ParseListURL(listURL); err != nil {
		return usageError{err}
	} else if li != *issuer {
		return fmt.Errorf("status list %s is %s's, not the issuer's", listURL, li)
	}
	ik, err := loadIssuerKey(*ikPath)
	if err != nil {
		return err
	}
	c := newClient(*u)
	// Check against the chain what a verifier will check.
	pub, err := publishedIssuerKey(c, *issuer)
	if err != nil {
		return err
	}
	if pub != ik.Public() {
		return fmt.Errorf("the key in %s is not the one %s publishes: publish it first (polity zk publish --issuer-key)", *ikPath, *issuer)
	}
	if _, v, err := resolve(c, *holder, 0); err != nil {
		if d, _ := did.Parse(*holder); d.Kind != did.KindKey {
			return fmt.Errorf("holder: %w", err)
		}
	} else if v.Deactivated {
		return fmt.Errorf("holder %s is deactivated", *holder)
	}
	st, sl, err := fetchZKStatus(c, listURL)
	if err != nil {
		return err
	}
	if uint64(*index) >= st.Size {
		return fmt.Errorf("status index %d is past the list's %d entries", *index, st.Size)
	}
	if sl.Revoked(uint32(*index)) {
		return fmt.Errorf("entry %d of %s is already set: pick an unused entry", *index, listURL)
	}
	cred, err := zk.NewCredential(a, *holder, listURL, uint32(*index), rand.Reader)
	if err != nil {
		return err
	}
	signed, err := ik.Sign(&cred)
	if err != nil {
		return err
	}
	cb, err := cred.MarshalBinary()
	if err != nil {
		return err
	}
	sb, err := signed.MarshalBinary()
	if err != nil {
		return err
	}
	f := zkCredentialFile{Type: zkCredentialType, Issuer: *issuer, Holder: *holder, StatusList: listURL, StatusIndex: uint32(*index),
		Credential: hex.EncodeToString(cb), Signed: hex.EncodeToString(sb)}
	if err := writeJSONFile(*out, f, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "issued a zk credential to %s (status %s #%d, commitment %s): %s\n", *holder, listURL, *index, signed.Commitment, *out)
	return nil
}

// loadZKCredential reads and checks a holder's credential file.
func loadZKCredential(path string) (*zkCredentialFile, *zk.Credential, *zk.SignedCommitment, error) {
	var f zkCredentialFile
	if err := readJSONFile(path, &f); err != nil {
		return nil, nil, nil, err
	}
	if f.Type != zkCredentialType {
		return nil, nil, nil, fmt.Errorf("%s is not a zk credential file", path)
	}
	var cred zk.Credential
	var signed zk.SignedCommitment
	cb, err1 := hex.DecodeString(f.Credential)
	sb, err2 := hex.DecodeString(f.Signed)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := cred.UnmarshalBinary(cb); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := signed.UnmarshalBinary(sb); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := signed.Opens(&cred); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: the signature does not cover this credential: %w", path, err)
	}
	h, err := zk.HashDID(f.Holder)
	if err != nil || h != cred.Holder {
		return nil, nil, nil, fmt.Errorf("%s: credential is not bound to %s", path, f.Holder)
	}
	l, err := zk.HashStatusListID(f.StatusList)
	if err != nil || l != cred.StatusList || f.StatusIndex != cred.StatusIndex {
		return nil, nil, nil, fmt.Errorf("%s: status entry does not match the credential", path)
	}
	return &f, &cred, &signed, nil
}

// wantStatement fills the predicate and its parameters from a challenge.
func wantStatement(ch *openapi.ZkChallenge) (zk.Statement, error) {
	var st zk.Statement
	p, err := zk.ParsePredicate(string(ch.Predicate))
	if err != nil {
		return st, err
	}
	st.Predicate = p
	ref, err := zk.ChallengeFromNonce(ch.Nonce)
	if err != nil {
		return st, err
	}
	if ref.String() != ch.Challenge {
		return st, fmt.Errorf("challenge %s is not the hash of its nonce", ch.Challenge)
	}
	st.Challenge = ref
	switch p {
	case zk.AgeAtLeast:
		if ch.Cutoff == nil {
			return st, errors.New("age-at-least challenge without a cutoff")
		}
		st.Cutoff = *ch.Cutoff
	case zk.InRange:
		if ch.AttrIndex == nil || ch.Min == nil || ch.Max == nil {
			return st, errors.New("in-range challenge without attr_index, min, max")
		}
		st.AttrIndex, st.Min, st.Max = uint8(*ch.AttrIndex), *ch.Min, *ch.Max
	case zk.InSet:
		if ch.AttrIndex == nil || ch.SetRoot == nil {
			return st, errors.New("in-set challenge without attr_index, set_root")
		}
		raw, err := hex.DecodeString(*ch.SetRoot)
		if err != nil {
			return st, err
		}
		if st.SetRoot, err = zk.ParseField(raw); err != nil {
			return st, err
		}
		st.AttrIndex = uint8(*ch.AttrIndex)
	}
	return st, nil
}

func runZKChallenge(args []string, stdout io.Writer) error {
	fs := newFlags("zk challenge")
	u := fs.String("url", defaultURL, "node API URL")
	pred := fs.String("predicate", "", "age-at-least, in-set or in-range (required)")
	minAge := fs.Int("min-age", -1, "age-at-least: the age in years")
	attr := fs.Int("attr", -1, "in-set, in-range: attribute index")
	lo := fs.String("min", "", "in-range: lower bound")
	hi := fs.String("max", "", "in-range: upper bound")
	setRoot := fs.String("set-root", "", "in-set: the set root (hex)")
	out := fs.String("out", "", "also write the challenge here for the holder")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := parsePredicateFlag(*pred)
	if err != nil {
		return err
	}
	req := openapi.ZkChallengeRequest{Predicate: openapi.ZkPredicate(p.String())}
	if *minAge >= 0 {
		req.MinAge = minAge
	}
	if *attr >= 0 {
		req.AttrIndex = attr
	}
	for _, b := range []struct {
		s   string
		dst **uint64
	}{{*lo, &req.Min}, {*hi, &req.Max}} {
		if b.s != "" {
			v, err := strconv.ParseUint(b.s, 10, 64)
			if err != nil {
				return usageError{err}
			}
			*b.dst = &v
		}
	}
	if *setRoot != "" {
		req.SetRoot = setRoot
	}
	var ch openapi.ZkChallenge
	if _, err := newClient(*u).do(context.Background(), "POST", "/v1/zk/challenges", req, &ch); err != nil {
		return err
	}
	if *out != "" {
		if err := writeJSONFile(*out, ch, 0o644); err != nil {
			return err
		}
	}
	return printJSON(stdout, ch)
}

func runZKProve(args []string, stdout io.Writer) error {
	fs := newFlags("zk prove")
	u := fs.String("url", defaultURL, "node API URL (status list and issuer key)")
	credPath := fs.String("credential", "", "your credential file from zk issue (required)")
	chPath := fs.String("challenge", "", "the verifier's challenge (JSON from POST /v1/zk/challenges) (required)")
	pkPath := fs.String("pk", "", "the predicate's proving key file (required)")
	members := fs.String("set", "", "in-set: the set's members in order, comma-separated")
	out := fs.String("out", "", "write the presentation (the body of POST /v1/zk/verify) here (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("credential", *credPath, "challenge", *chPath, "pk", *pkPath, "out", *out); err != nil {
		return err
	}
	f, cred, signed, err := loadZKCredential(*credPath)
	if err != nil {
		return err
	}
	var ch openapi.ZkChallenge
	if err := readJSONFile(*chPath, &ch); err != nil {
		return err
	}
	st, err := wantStatement(&ch)
	if err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	if time.Now().After(ch.ExpiresAt) {
		return fmt.Errorf("the challenge expired at %s: ask the verifier for a new one", ch.ExpiresAt.Format(time.RFC3339))
	}
	c := newClient(*u)
	pub, err := publishedIssuerKey(c, f.Issuer)
	if err != nil {
		return err
	}
	if pub != signed.Issuer {
		return fmt.Errorf("%s no longer publishes the key that signed this credential: it was rotated; ask for a new credential", f.Issuer)
	}
	status, sl, err := fetchZKStatus(c, f.StatusList)
	if err != nil {
		return err
	}
	if sl.Revoked(cred.StatusIndex) {
		return fmt.Errorf("the credential is %s: entry %d of %s is set, so no proof can be made", map[openapi.ZkStatusListPurpose]string{
			openapi.ZkStatusListPurposeRevocation: "revoked", openapi.ZkStatusListPurposeSuspension: "suspended"}[status.Purpose], cred.StatusIndex, f.StatusList)
	}
	st.Issuer, st.Holder, st.StatusList, st.StatusRoot = signed.Issuer, cred.Holder, cred.StatusList, sl.Root()
	w := zk.Witness{Credential: *cred, Signed: *signed}
	if w.Status, err = sl.Proof(cred.StatusIndex); err != nil {
		return err
	}
	if st.Predicate == zk.InSet {
		if *members == "" {
			return usageError{errors.New("in-set needs -set")}
		}
		var vs []uint64
		for _, m := range strings.Split(*members, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(m), 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("-set: %w", err)}
			}
			vs = append(vs, v)
		}
		set, err := zk.NewSet(vs)
		if err != nil {
			return err
		}
		if set.Root() != st.SetRoot {
			return fmt.Errorf("the set's root %s is not the challenge's %s", set.Root(), st.SetRoot)
		}
		if w.Set, err = set.Proof(cred.Attributes[st.AttrIndex]); err != nil {
			return fmt.Errorf("attribute %d is not in the set: no proof can be made", st.AttrIndex)
		}
	}
	pkb, err := readBounded(*pkPath, maxZKFile)
	if err != nil {
		return err
	}
	pk, err := zk.ParseProvingKey(pkb)
	if err != nil {
		return fmt.Errorf("%s: %w", *pkPath, err)
	}
	start := time.Now()
	proof, err := zk.Prove(pk, &st, &w)
	if errors.Is(err, zk.ErrUnsatisfied) {
		return fmt.Errorf("the credential does not satisfy the challenge's predicate, so no proof can be made: %w", err)
	} else if err != nil {
		return err
	}
	sb, err := st.MarshalBinary()
	if err != nil {
		return err
	}
	pb, err := proof.MarshalBinary()
	if err != nil {
		return err
	}
	pres := openapi.ZkVerifyRequest{Predicate: ch.Predicate, Issuer: f.Issuer, Holder: f.Holder, StatusList: f.StatusList,
		Statement: sb, Proof: pb, Nonce: ch.Nonce}
	if err := writeJSONFile(*out, pres, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "proved %s in %s against status root %s: %s\n", st.Predicate, time.Since(start).Round(time.Millisecond), st.StatusRoot, *out)
	return nil
}

func runZKVerify(args []string, stdout io.Writer) error {
	fs := newFlags("zk verify")
	vkPath := fs.String("vk", "", "the predicate's verifying key file (required)")
	presPath := fs.String("presentation", "", "the holder's presentation from zk prove (required)")
	chPath := fs.String("challenge", "", "the challenge you issued: the proof must answer it")
	issuerKey := fs.String("issuer-key", "", "the issuer's published BN254 key (hex) the statement must name")
	statusRoot := fs.String("status-root", "", "the status list's current root (hex) the statement must name")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags("vk", *vkPath, "presentation", *presPath); err != nil {
		return err
	}
	vkb, err := readBounded(*vkPath, registry.MaxZKVerifyingKeyLen)
	if err != nil {
		return err
	}
	vk, err := zk.ParseVerifyingKey(vkb)
	if err != nil {
		return fmt.Errorf("%s: %w", *vkPath, err)
	}
	var pres openapi.ZkVerifyRequest
	if err := readJSONFile(*presPath, &pres); err != nil {
		return err
	}
	var st zk.Statement
	if err := st.UnmarshalBinary(pres.Statement); err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	var proof zk.Proof
	if err := proof.UnmarshalBinary(pres.Proof); err != nil {
		return fmt.Errorf("INVALID: %w", err)
	}
	if h, err := zk.HashDID(pres.Holder); err != nil || h != st.Holder {
		return fmt.Errorf("INVALID: the statement is not about holder %s", pres.Holder)
	}
	if h, err := zk.HashStatusListID(pres.StatusList); err != nil || h != st.StatusList {
		return fmt.Errorf("INVALID: the statement does not name status list %s", pres.StatusList)
	}
	if c, err := zk.ChallengeFromNonce(pres.Nonce); err != nil || c != st.Challenge {
		return errors.New("INVALID: the statement's challenge is not the hash of the nonce")
	}
	if *chPath != "" {
		var ch openapi.ZkChallenge
		if err := readJSONFile(*chPath, &ch); err != nil {
			return err
		}
		want, err := wantStatement(&ch)
		if err != nil {
			return fmt.Errorf("challenge: %w", err)
		}
		if want.Challenge != st.Challenge || want.Predicate != st.Predicate || want.Cutoff != st.Cutoff || want.AttrIndex != st.AttrIndex ||
			want.SetRoot != st.SetRoot || want.Min != st.Min || want.Max != st.Max {
			return errors.New("INVALID: the proof does not answer this challenge")
		}
	}
	if *issuerKey != "" && *issuerKey != hex.EncodeToString(st.Issuer[:]) {
		return errors.New("INVALID: the statement names another issuer key")
	}
	if *statusRoot != "" && *statusRoot != st.StatusRoot.String() {
		return errors.New("INVALID: the statement names another status root (revoked, or a stale list)")
	}
	if err := zk.Verify(vk, &st, &proof); err != nil {
		return fmt.Errorf("INVALID: %w", err)
	}
	h, _ := vk.Hash()
	fmt.Fprintf(stdout, "OK: %s holds for holder %s (verifying key %x)\n", st.Predicate, pres.Holder, h)
	fmt.Fprintf(stdout, "issuer key %x, status root %s: check both against the identity chain unless pinned with -issuer-key and -status-root\n", st.Issuer[:], st.StatusRoot)
	return nil
}
