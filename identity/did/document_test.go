package did_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
	"github.com/polityledger/polity/identity/did"
)

var suites = []crypto.Suite{ed25519sha256.New(), sm2sm3.New()}

// fixture returns a signed document of suite s registered by a key-DID
// authority, and the subject's and authority's keys.
func fixture(t testing.TB, s crypto.Suite) (*did.Document, crypto.PrivateKey, crypto.PrivateKey) {
	t.Helper()
	subj, err := s.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := s.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := subj.Public().Bytes()
	d := &did.Document{
		ID:                  did.Derive(s, pub).String(),
		Type:                did.TypePerson,
		Controller:          "did:polity:" + regID,
		VerificationMethods: []did.VerificationMethod{{ID: "key-1", Type: did.KeyType(s.Name()), PublicKey: pub}},
		Attributes:          map[string]string{"name": "Ada", "birth_date": "1990-01-02", "nationalId": "X 1"},
		Services:            []did.Service{{ID: "api", Type: "LinkedDomains", Endpoint: "https://civil.example.gov/api"}},
		Authority:           chain.KeyDID(s, auth.Public().Bytes()),
		AuthorityKey:        auth.Public().Bytes(),
	}
	if err := d.SignClaim(auth); err != nil {
		t.Fatal(err)
	}
	return d, subj, auth
}

func TestDocumentEncodings(t *testing.T) {
	for _, s := range suites {
		d, subj, auth := fixture(t, s)
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := d.CheckKeys(s); err != nil {
			t.Fatal(err)
		}
		if err := d.VerifyClaim(s, auth.Public().Bytes()); err != nil {
			t.Fatal(err)
		}
		if err := d.VerifyClaim(s, subj.Public().Bytes()); !errors.Is(err, did.ErrBadSignature) {
			t.Fatalf("claim verified with the wrong key: %v", err)
		}
		pop, err := d.SignRegistration(subj)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.VerifyRegistration(s, pop); err != nil {
			t.Fatal(err)
		}
		if bad, _ := d.SignRegistration(auth); d.VerifyRegistration(s, bad) == nil {
			t.Fatal("registration signed by another key verified")
		}

		enc := d.Encode()
		got, err := did.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, d) || !bytes.Equal(got.Encode(), enc) {
			t.Fatalf("canonical round trip: %+v", got)
		}

		js, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err = did.DecodeJSON(js)
		if err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("JSON round trip: %+v, %v", got, err)
		}

		w3c, err := d.MarshalW3C()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"@context":["https://www.w3.org/ns/did/v1"`, `"publicKey`, `"authentication"`, `"assertionMethod"`, `"polityType":"person"`, `"serviceEndpoint":"https://civil.example.gov/api"`, `"controller":"did:polity:`} {
			if !strings.Contains(string(w3c), want) {
				t.Errorf("DID Core JSON lacks %s:\n%s", want, w3c)
			}
		}
		got, err = did.ParseW3C(w3c)
		if err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("DID Core round trip: %+v, %v\n%s", got, err, w3c)
		}
		if err := got.VerifyClaim(s, auth.Public().Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEd25519Multibase(t *testing.T) {
	d, _, _ := fixture(t, suites[0])
	w3c, err := d.MarshalW3C()
	if err != nil {
		t.Fatal(err)
	}
	// base58btc ("z") of 0xed01 || key starts "z6Mk" (W3C Ed25519VerificationKey2020).
	if !strings.Contains(string(w3c), `"publicKeyMultibase":"z6Mk`) {
		t.Fatalf("no multicodec-prefixed key:\n%s", w3c)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(d *did.Document)
	}{
		{"key DID as id", func(d *did.Document) { d.ID = "did:polity:" + keyID }},
		{"bad id", func(d *did.Document) { d.ID = "did:polity:xyz" }},
		{"bad type", func(d *did.Document) { d.Type = "robot" }},
		{"self controller", func(d *did.Document) { d.Controller = d.ID }},
		{"bad controller", func(d *did.Document) { d.Controller = "did:web:x" }},
		{"no keys", func(d *did.Document) { d.VerificationMethods = nil }},
		{"too many keys", func(d *did.Document) {
			for i := 0; i < did.MaxVerificationMethods; i++ {
				d.VerificationMethods = append(d.VerificationMethods, did.VerificationMethod{ID: "k" + string(rune('a'+i)), Type: did.KeyTypeEd25519, PublicKey: []byte{1}})
			}
		}},
		{"repeated key id", func(d *did.Document) { d.VerificationMethods = append(d.VerificationMethods, d.VerificationMethods[0]) }},
		{"bad key id", func(d *did.Document) { d.VerificationMethods[0].ID = "1" }},
		{"unknown key type", func(d *did.Document) { d.VerificationMethods[0].Type = "RsaVerificationKey2018" }},
		{"empty key", func(d *did.Document) { d.VerificationMethods[0].PublicKey = nil }},
		{"huge key", func(d *did.Document) { d.VerificationMethods[0].PublicKey = make([]byte, 129) }},
		{"bad attribute name", func(d *did.Document) { d.Attributes["1x"] = "v" }},
		{"long attribute", func(d *did.Document) { d.Attributes["x"] = strings.Repeat("v", 257) }},
		{"control char attribute", func(d *did.Document) { d.Attributes["x"] = "a\nb" }},
		{"too many attributes", func(d *did.Document) {
			for i := 0; i <= did.MaxAttributes; i++ {
				d.Attributes["a"+strings.Repeat("x", i)] = "v"
			}
		}},
		{"service id clashes with key", func(d *did.Document) { d.Services[0].ID = "key-1" }},
		{"relative endpoint", func(d *did.Document) { d.Services[0].Endpoint = "/api" }},
		{"empty service type", func(d *did.Document) { d.Services[0].Type = "" }},
		{"no authority", func(d *did.Document) { d.Authority = "" }},
		{"self authority", func(d *did.Document) { d.Authority = d.ID + "#key-1" }},
		{"key authority without key", func(d *did.Document) { d.AuthorityKey = nil }},
		{"registered authority with key", func(d *did.Document) { d.Authority = "did:polity:" + regID + "#key-1" }},
		{"key authority, wrong fragment", func(d *did.Document) { d.Authority = "did:polity:" + keyID + "#key-1" }},
		{"no signature", func(d *did.Document) { d.AuthoritySig = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _, _ := fixture(t, suites[0])
			tc.mut(d)
			if err := d.Validate(); !errors.Is(err, did.ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestCheckKeys(t *testing.T) {
	d, _, _ := fixture(t, suites[0])
	if err := d.CheckKeys(suites[1]); !errors.Is(err, did.ErrInvalid) {
		t.Fatalf("Ed25519 document accepted on an SM2 chain: %v", err)
	}
	d.VerificationMethods[0].PublicKey = make([]byte, 31)
	if err := d.CheckKeys(suites[0]); !errors.Is(err, did.ErrInvalid) {
		t.Fatalf("short key accepted: %v", err)
	}
}

func TestClaimCoversAttested(t *testing.T) {
	d, _, auth := fixture(t, suites[0])
	for name, mut := range map[string]func(*did.Document){
		"attribute":  func(d *did.Document) { d.Attributes["name"] = "Eve" },
		"type":       func(d *did.Document) { d.Type = did.TypeDevice },
		"controller": func(d *did.Document) { d.Controller = "" },
	} {
		c := *d
		c.Attributes = map[string]string{}
		for k, v := range d.Attributes {
			c.Attributes[k] = v
		}
		mut(&c)
		if err := c.VerifyClaim(suites[0], auth.Public().Bytes()); err == nil {
			t.Errorf("changing the %s kept the claim valid", name)
		}
	}
}

func TestDecodeJSONStrict(t *testing.T) {
	d, _, _ := fixture(t, suites[0])
	js, _ := json.Marshal(d)
	for name, in := range map[string]string{
		"unknown field":      strings.Replace(string(js), `{"id"`, `{"x":1,"id"`, 1),
		"trailing":           string(js) + "{}",
		"repeated attribute": strings.Replace(string(js), `"attributes":{`, `"attributes":{"name":"Eve",`, 1),
		"oversize":           string(js) + strings.Repeat(" ", did.MaxEncodedSize),
	} {
		if _, err := did.DecodeJSON([]byte(in)); !errors.Is(err, did.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	d, _, _ := fixture(t, suites[0])
	enc := d.Encode()
	if _, err := did.Decode(append(enc, 0)); !errors.Is(err, did.ErrInvalid) {
		t.Fatalf("trailing byte: %v", err)
	}
	if _, err := did.Decode(enc[:len(enc)-1]); !errors.Is(err, did.ErrInvalid) {
		t.Fatalf("truncated: %v", err)
	}
	bad := bytes.Clone(enc)
	bad[0] = 2
	if _, err := did.Decode(bad); !errors.Is(err, did.ErrInvalid) {
		t.Fatalf("version 2: %v", err)
	}
}

func seedDocs(f *testing.F) *did.Document {
	d, _, _ := fixture(f, suites[0])
	return d
}

// FuzzDecode: canonical decoding never panics and what it accepts
// re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	d := seedDocs(f)
	f.Add(d.Encode())
	d.Attributes, d.Services, d.Controller = nil, nil, ""
	f.Add(d.Encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := did.Decode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(d.Encode(), b) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}

// FuzzDecodeJSON: the argument form never panics and what it accepts
// survives the canonical encoding.
func FuzzDecodeJSON(f *testing.F) {
	d := seedDocs(f)
	js, _ := json.Marshal(d)
	f.Add(js)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := did.DecodeJSON(b)
		if err != nil {
			return
		}
		got, err := did.Decode(d.Encode())
		if err != nil || !bytes.Equal(got.Encode(), d.Encode()) {
			t.Fatalf("valid JSON document fails its canonical round trip: %v", err)
		}
	})
}

// FuzzParseW3C: DID Core parsing never panics and what it accepts
// re-encodes to a document that parses back equal.
func FuzzParseW3C(f *testing.F) {
	d := seedDocs(f)
	w, _ := d.MarshalW3C()
	f.Add(w)
	sm, _, _ := fixture(f, suites[1])
	sm.Services, sm.Attributes, sm.Controller = nil, nil, ""
	w, _ = sm.MarshalW3C()
	f.Add(w)
	f.Add([]byte(`{"@context":"https://www.w3.org/ns/did/v1","id":"did:polity:` + regID + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := did.ParseW3C(b)
		if err != nil {
			return
		}
		w, err := d.MarshalW3C()
		if err != nil {
			t.Fatal(err)
		}
		again, err := did.ParseW3C(w)
		if err != nil || !bytes.Equal(again.Encode(), d.Encode()) {
			t.Fatalf("re-encoded document differs: %v", err)
		}
	})
}
