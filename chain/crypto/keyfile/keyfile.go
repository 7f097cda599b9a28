// Package keyfile stores a private key with its suite name as JSON in a file
// readable only by its owner (mode 0600).
package keyfile

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/suites"
)

// MaxSize bounds a key file.
const MaxSize = 4096

// ErrBadKeyFile wraps every parse error.
var ErrBadKeyFile = errors.New("invalid key file")

type file struct {
	Suite      string `json:"suite"`
	PrivateKey string `json:"private_key"` // hex
	PublicKey  string `json:"public_key"`  // hex, for reading by people; checked on load
}

// Save writes key to path atomically (temp file, sync, rename), refusing to
// overwrite an existing file.
func Save(path string, s crypto.Suite, key crypto.PrivateKey) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists; refusing to overwrite a key", path)
	}
	b, err := json.MarshalIndent(file{Suite: s.Name(), PrivateKey: hex.EncodeToString(key.Bytes()), PublicKey: hex.EncodeToString(key.Public().Bytes())}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	// A temp file left by an interrupted Save may have looser permissions or
	// be a symlink: start from a new file rather than truncate it.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads a key file.
func Load(path string) (crypto.Suite, crypto.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	buf := make([]byte, MaxSize+1)
	n, _ := f.Read(buf)
	return Parse(buf[:n])
}

// Parse decodes the contents of a key file.
func Parse(b []byte) (crypto.Suite, crypto.PrivateKey, error) {
	if len(b) > MaxSize {
		return nil, nil, fmt.Errorf("%w: over %d bytes", ErrBadKeyFile, MaxSize)
	}
	var kf file
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadKeyFile, err)
	}
	s, err := suites.ByName(kf.Suite)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadKeyFile, err)
	}
	raw, err := hex.DecodeString(kf.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: private_key: %w", ErrBadKeyFile, err)
	}
	key, err := s.PrivateKey(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadKeyFile, err)
	}
	if kf.PublicKey != "" && kf.PublicKey != hex.EncodeToString(key.Public().Bytes()) {
		return nil, nil, fmt.Errorf("%w: public_key does not match private_key", ErrBadKeyFile)
	}
	return s, key, nil
}
