package keyfile

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

var allSuites = []crypto.Suite{ed25519sha256.New(), sm2sm3.New()}

func genKey(t testing.TB, s crypto.Suite) crypto.PrivateKey {
	t.Helper()
	k, err := s.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyJSON is a key file's content with the given fields.
func keyJSON(t testing.TB, fields map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameKey(t *testing.T, s crypto.Suite, a, b crypto.PrivateKey) {
	t.Helper()
	if !bytes.Equal(a.Bytes(), b.Bytes()) || !bytes.Equal(a.Public().Bytes(), b.Public().Bytes()) {
		t.Fatal("loaded key differs")
	}
	msg := []byte("polity keyfile test")
	sig, err := b.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.PublicKey(a.Public().Bytes())
	if err != nil || !pub.Verify(msg, sig) {
		t.Fatalf("signature of the loaded key does not verify under the original: %v", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, s := range allSuites {
		t.Run(s.Name(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sub", "dir", "node.key") // Save creates parents
			key := genKey(t, s)
			if err := Save(path, s, key); err != nil {
				t.Fatal(err)
			}
			gs, got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if gs.Name() != s.Name() {
				t.Fatalf("suite %s, want %s", gs.Name(), s.Name())
			}
			sameKey(t, s, key, got)

			// The file is the documented JSON, with no temp file left over.
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var kf map[string]string
			if err := json.Unmarshal(raw, &kf); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"suite": s.Name(), "private_key": hex.EncodeToString(key.Bytes()), "public_key": hex.EncodeToString(key.Public().Bytes())}
			if len(kf) != len(want) {
				t.Fatalf("fields %v", kf)
			}
			for k, v := range want {
				if kf[k] != v {
					t.Fatalf("%s = %q, want %q", k, kf[k], v)
				}
			}
			if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temp file left: %v", err)
			}
		})
	}
}

func TestSaveRefusesOverwrite(t *testing.T) {
	s := allSuites[0]
	path := filepath.Join(t.TempDir(), "node.key")
	first := genKey(t, s)
	if err := Save(path, s, first); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := Save(path, s, genKey(t, s)); err == nil {
		t.Fatal("overwrote an existing key")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing key file changed")
	}
	// Any existing file counts, even an empty one.
	other := filepath.Join(t.TempDir(), "empty.key")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Save(other, s, first); err == nil {
		t.Fatal("overwrote an existing empty file")
	}
}

func TestSaveFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	s := allSuites[0]
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	if err := Save(path, s, genKey(t, s)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}

	// A temp file left by an interrupted Save, with looser permissions, must
	// not carry them over to the key.
	path2 := filepath.Join(dir, "node2.key")
	if err := os.WriteFile(path2+".tmp", []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path2+".tmp", 0o644); err != nil {
		t.Fatal(err)
	}
	key := genKey(t, s)
	if err := Save(path2, s, key); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path2); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("over a stale temp file: mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if _, got, err := Load(path2); err != nil || !bytes.Equal(got.Bytes(), key.Bytes()) {
		t.Fatalf("over a stale temp file: load %v", err)
	}

	// A temp path that is a symlink must not redirect the key elsewhere.
	path3 := filepath.Join(dir, "node3.key")
	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path3+".tmp"); err != nil {
		t.Skipf("symlink: %v", err)
	}
	if err := Save(path3, s, genKey(t, s)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "untouched" {
		t.Fatal("Save wrote the key through a symlinked temp path")
	}
	if fi, err := os.Lstat(path3); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file through symlinked temp: %v, %v", fi.Mode(), err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(filepath.Join(dir, "missing.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.key")
	s := allSuites[0]
	k := genKey(t, s)
	content := keyJSON(t, map[string]any{"suite": s.Name(), "private_key": hex.EncodeToString(k.Bytes())})
	content = append(content, bytes.Repeat([]byte(" "), MaxSize)...)
	if err := os.WriteFile(big, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(big); !errors.Is(err, ErrBadKeyFile) {
		t.Fatalf("oversize file: %v", err)
	}
	if _, _, err := Load(dir); err == nil {
		t.Fatal("loaded a directory")
	}
}

func TestParse(t *testing.T) {
	ed, sm := allSuites[0], allSuites[1]
	edKey, smKey := genKey(t, ed), genKey(t, sm)
	edPriv, edPub := hex.EncodeToString(edKey.Bytes()), hex.EncodeToString(edKey.Public().Bytes())
	smPriv, smPub := hex.EncodeToString(smKey.Bytes()), hex.EncodeToString(smKey.Public().Bytes())
	otherPub := hex.EncodeToString(genKey(t, ed).Public().Bytes())
	nMinus1 := "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54122" // SM2 n-1: out of range

	good := []struct {
		name string
		in   []byte
		s    crypto.Suite
		key  crypto.PrivateKey
	}{
		{"ed25519", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv, "public_key": edPub}), ed, edKey},
		{"sm2", keyJSON(t, map[string]any{"suite": sm.Name(), "private_key": smPriv, "public_key": smPub}), sm, smKey},
		{"no public key", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv}), ed, edKey},
		{"uppercase private key", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": strings.ToUpper(edPriv), "public_key": edPub}), ed, edKey},
		{"indented", []byte("{\n  \"suite\": \"" + ed.Name() + "\",\n  \"private_key\": \"" + edPriv + "\"\n}\n"), ed, edKey},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			s, k, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != tc.s.Name() {
				t.Fatalf("suite %s", s.Name())
			}
			sameKey(t, tc.s, tc.key, k)
		})
	}

	bad := []struct {
		name string
		in   []byte
	}{
		{"unknown field", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv, "public_key": edPub, "comment": "x"})},
		{"field of another format", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv, "seed": edPriv})},
		{"wrong public key", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv, "public_key": otherPub})},
		{"public key of the other suite", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv, "public_key": smPub})},
		{"public key not hex", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv, "public_key": "zz"})},
		{"unknown suite", keyJSON(t, map[string]any{"suite": "ed448-shake", "private_key": edPriv})},
		{"suite wrong case", keyJSON(t, map[string]any{"suite": "ED25519-SHA256", "private_key": edPriv})},
		{"no suite", keyJSON(t, map[string]any{"private_key": edPriv})},
		{"ed25519 key under sm2", keyJSON(t, map[string]any{"suite": sm.Name(), "private_key": edPriv, "public_key": edPub})},
		{"sm2 scalar out of range", keyJSON(t, map[string]any{"suite": sm.Name(), "private_key": nMinus1})},
		{"sm2 zero scalar", keyJSON(t, map[string]any{"suite": sm.Name(), "private_key": strings.Repeat("00", 32)})},
		{"private key not hex", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": "xyz"})},
		{"private key odd length", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv[1:]})},
		{"private key short", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv[2:]})},
		{"private key long", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv + "00"})},
		{"no private key", keyJSON(t, map[string]any{"suite": ed.Name(), "public_key": edPub})},
		{"private key wrong type", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": 5})},
		{"oversize", append(keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv}), bytes.Repeat([]byte(" "), MaxSize)...)},
		{"empty", nil},
		{"null", []byte("null")},
		{"array", []byte("[]")},
		{"truncated", keyJSON(t, map[string]any{"suite": ed.Name(), "private_key": edPriv})[:40]},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s, k, err := Parse(tc.in)
			if err == nil || s != nil || k != nil {
				t.Fatalf("accepted %s", tc.in)
			}
			if !errors.Is(err, ErrBadKeyFile) {
				t.Fatalf("error %v does not wrap ErrBadKeyFile", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range allSuites {
		k := genKey(f, s)
		f.Add(keyJSON(f, map[string]any{"suite": s.Name(), "private_key": hex.EncodeToString(k.Bytes()), "public_key": hex.EncodeToString(k.Public().Bytes())}))
		f.Add(keyJSON(f, map[string]any{"suite": s.Name(), "private_key": hex.EncodeToString(k.Bytes())}))
	}
	f.Add([]byte(`{"suite":"sm2-sm3","private_key":"fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54122"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, k, err := Parse(data)
		if err != nil {
			if s != nil || k != nil || !errors.Is(err, ErrBadKeyFile) {
				t.Fatalf("error %v with suite %v, key %v", err, s, k)
			}
			return
		}
		if len(data) > MaxSize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		// The key must be usable and re-parse from its own canonical form.
		again, err := s.PrivateKey(k.Bytes())
		if err != nil || !bytes.Equal(again.Public().Bytes(), k.Public().Bytes()) {
			t.Fatalf("key does not re-decode: %v", err)
		}
		if _, err := s.PublicKey(k.Public().Bytes()); err != nil {
			t.Fatalf("public key does not decode: %v", err)
		}
		canon := keyJSON(t, map[string]any{"suite": s.Name(), "private_key": hex.EncodeToString(k.Bytes()), "public_key": hex.EncodeToString(k.Public().Bytes())})
		s2, k2, err := Parse(canon)
		if err != nil || s2.Name() != s.Name() || !bytes.Equal(k2.Bytes(), k.Bytes()) {
			t.Fatalf("canonical form does not parse back: %v", err)
		}
	})
}
