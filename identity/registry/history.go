package registry

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
)

// A DID's state is one head key holding its version count and one key per
// version holding that version's document and the block heights it was
// current for. Each value decodes on its own, so a verifier needs one
// proven version value to know the document valid at a height.

// Version is one version of a DID document.
type Version struct {
	Number uint64 // 1 for the registration
	// From is the height of the block that wrote it; Until the height of
	// the block that superseded it, 0 while current. It was the document
	// of its DID in the state after every block h with From <= h < Until.
	From, Until uint64
	// FromTime and UntilTime are the times (Unix milliseconds, the
	// proposers' header times) of the blocks at From and Until, UntilTime 0
	// while current. A verifier holding one proven version therefore knows
	// the wall-clock period it was current for, [FromTime, UntilTime),
	// without fetching other headers: that is how an offline credential
	// bundle checks that a key was valid when a credential was issued.
	FromTime, UntilTime uint64
	// Deactivated marks the final version written by did.deactivate; Doc
	// then repeats the last active document.
	Deactivated bool
	Doc         *did.Document
}

const versionEncoding = 2

// Encode returns the canonical encoding of v.
func (v *Version) Encode() []byte {
	w := codec.NewWriter(1024)
	w.Byte(versionEncoding)
	w.Uint(v.Number)
	w.Uint(v.From)
	w.Uint(v.Until)
	w.Uint(v.FromTime)
	w.Uint(v.UntilTime)
	w.Bool(v.Deactivated)
	v.Doc.EncodeTo(w)
	return w.Bytes()
}

// DecodeVersion strictly decodes a stored version.
func DecodeVersion(b []byte) (*Version, error) {
	r := codec.NewReader(b)
	if x := r.Byte("version.encoding"); r.Err() == nil && x != versionEncoding {
		r.Failf("version.encoding", "unsupported %d", x)
	}
	v := &Version{Number: r.Uint("version.number"), From: r.Uint("version.from"), Until: r.Uint("version.until"),
		FromTime: r.Uint("version.from_time"), UntilTime: r.Uint("version.until_time"), Deactivated: r.Bool("version.deactivated")}
	v.Doc = did.DecodeFrom(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: DID version: %w", ErrCorrupt, err)
	}
	if err := v.Doc.Validate(); err != nil {
		return nil, fmt.Errorf("%w: DID version: %w", ErrCorrupt, err)
	}
	if v.Number == 0 || (v.Until != 0 && v.Until < v.From) || (v.Until == 0) != (v.UntilTime == 0) || (v.Until != 0 && v.UntilTime < v.FromTime) {
		return nil, fmt.Errorf("%w: DID version %d range [%d, %d) times [%d, %d)", ErrCorrupt, v.Number, v.From, v.Until, v.FromTime, v.UntilTime)
	}
	return v, nil
}

func headKey(d string) []byte { return append([]byte("h/"), d...) }

func versionKey(d string, n uint64) []byte {
	k := append([]byte("v/"), d...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, n)
}

// HeadStateKey is the full state key of a DID's version count.
func HeadStateKey(d string) []byte { return module.StateKey(DIDModule, headKey(d)) }

// VersionStateKey is the full state key of version n of a DID: the key a
// verifier needs proven to resolve the DID at a height (Version.Number of
// ResolveAt's answer names it).
func VersionStateKey(d string, n uint64) []byte {
	return module.StateKey(DIDModule, versionKey(d, n))
}

func readHead(g getter, d string) (uint64, error) {
	raw, err := g(DIDModule, headKey(d))
	if err != nil || raw == nil {
		return 0, err
	}
	r := codec.NewReader(raw)
	n := r.Uint("head.versions")
	if err := r.Done(); err != nil || n == 0 {
		return 0, fmt.Errorf("%w: DID head of %s", ErrCorrupt, d)
	}
	return n, nil
}

func readVersion(g getter, d string, n uint64) (*Version, error) {
	raw, err := g(DIDModule, versionKey(d, n))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: DID %s version %d missing", ErrCorrupt, d, n)
	}
	v, err := DecodeVersion(raw)
	if err != nil {
		return nil, err
	}
	if v.Number != n || v.Doc.ID != d {
		return nil, fmt.Errorf("%w: DID %s version %d holds %s version %d", ErrCorrupt, d, n, v.Doc.ID, v.Number)
	}
	return v, nil
}

// latest returns the newest version of d, deactivated or not.
func latest(g getter, d string) (*Version, error) {
	n, err := readHead(g, d)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	return readVersion(g, d, n)
}

// current returns the newest version of d, failing if it is deactivated.
func current(g getter, d string) (*Version, error) {
	v, err := latest(g, d)
	if err != nil {
		return nil, err
	}
	if v.Deactivated {
		return nil, fmt.Errorf("%w: %s", ErrDeactivated, d)
	}
	return v, nil
}

// resolveAt binary-searches the versions for the last one written at or
// before height: O(log versions) reads.
func resolveAt(g getter, d string, height uint64) (*Version, error) {
	n, err := readHead(g, d)
	if err != nil {
		return nil, err
	}
	var ferr error
	cache := make(map[uint64]*Version)
	// i is the count of versions written at or before height.
	i := sort.Search(int(min(n, uint64(1<<62))), func(i int) bool {
		v, err := readVersion(g, d, uint64(i)+1)
		if err != nil {
			ferr = err
			return true
		}
		cache[uint64(i)+1] = v
		return v.From > height
	})
	if ferr != nil {
		return nil, ferr
	}
	if i == 0 {
		return nil, fmt.Errorf("%w: %s at height %d", ErrNotFound, d, height)
	}
	if v := cache[uint64(i)]; v != nil {
		return v, nil
	}
	return readVersion(g, d, uint64(i))
}

// Resolve returns the newest version of DID d in the state read reads
// (deactivated or not: check Version.Deactivated), or ErrNotFound.
func Resolve(read Reader, d string) (*Version, error) {
	if _, err := did.Parse(d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	return latest(read.getter(), d)
}

// ResolveAt returns the version of d that was current after the block at
// height, or ErrNotFound if d was registered later. read must see state at
// a height >= height. A deactivated answer has Deactivated set.
func ResolveAt(read Reader, d string, height uint64) (*Version, error) {
	if _, err := did.Parse(d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	return resolveAt(read.getter(), d, height)
}

// KeyAt returns the verification method the DID URL u names in the
// document current after the block at height. It fails with
// ErrDeactivated or ErrNotFound when the DID was not active then or had no
// such method. A key DID's #key-0 has no stored key: it is the key whose
// address the DID names, so callers check it against the signer's key.
func KeyAt(read Reader, u string, height uint64) (did.VerificationMethod, error) {
	pu, err := did.ParseURL(u)
	if err != nil {
		return did.VerificationMethod{}, fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	if pu.DID.Kind == did.KindKey {
		return did.VerificationMethod{}, fmt.Errorf("%w: %s is a key DID; its key is the signer's", ErrBadArgs, u)
	}
	v, err := ResolveAt(read, pu.DID.String(), height)
	if err != nil {
		return did.VerificationMethod{}, err
	}
	if v.Deactivated {
		return did.VerificationMethod{}, fmt.Errorf("%w: %s at height %d", ErrDeactivated, pu.DID, height)
	}
	vm, ok := v.Doc.Method(pu.Fragment)
	if !ok {
		return did.VerificationMethod{}, fmt.Errorf("%w: %s at height %d", ErrNotFound, u, height)
	}
	return vm, nil
}

// DocumentAt turns a value proven under VersionStateKey(d, n) in the state
// at height provenAt back into the version of d valid at height: it checks
// the value is d's and that its range covers height. Deactivation is
// reported in the result, not as an error.
func DocumentAt(d string, height, provenAt uint64, value []byte) (*Version, error) {
	if height > provenAt {
		return nil, fmt.Errorf("%w: height %d is after the proof's %d", ErrNotAtHeight, height, provenAt)
	}
	if value == nil {
		return nil, fmt.Errorf("%w: %s: no value", ErrNotFound, d)
	}
	v, err := DecodeVersion(value)
	if err != nil {
		return nil, err
	}
	if v.Doc.ID != d {
		return nil, fmt.Errorf("%w: value is %s's, not %s's", ErrNotAtHeight, v.Doc.ID, d)
	}
	if v.From > height || (v.Until != 0 && height >= v.Until) {
		return nil, fmt.Errorf("%w: version %d covers [%d, %d), not %d", ErrNotAtHeight, v.Number, v.From, v.Until, height)
	}
	return v, nil
}

// CurrentAtTime reports whether v was the current version at time t (Unix
// milliseconds): FromTime <= t < UntilTime (open-ended while current).
// Header times strictly increase, so this is the same answer as mapping t
// to the last block at or before it and checking From <= h < Until.
func (v *Version) CurrentAtTime(t uint64) bool {
	return v.FromTime <= t && (v.UntilTime == 0 || t < v.UntilTime)
}
