package registry

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
)

// Status lists follow W3C Bitstring Status List v1.0
// (https://www.w3.org/TR/vc-bitstring-status-list/): one bit per
// credential, index 0 the left-most (most significant) bit of the first
// byte, at least 131,072 bits so a single index reveals little about which
// credential is checked. A list is stored as its metadata under one key and
// its bits in chunks of ChunkBits under one key each; an absent chunk is
// all zeros, so a proof of one entry is one small chunk (or its absence).
const (
	ChunkBits   = 4096
	ChunkBytes  = ChunkBits / 8
	MinListBits = 131072
	MaxListBits = 1 << 24 // 4096 chunks, 2 MiB
)

// Purposes of a list (the spec's statusPurpose).
const (
	PurposeRevocation = "revocation"
	PurposeSuspension = "suspension"
)

// Actions of status.set.
const (
	ActionRevoke    = "revoke"
	ActionSuspend   = "suspend"
	ActionUnsuspend = "unsuspend"
)

var listID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CreateArgs are the arguments of status.create. The signer's DID (As, or
// its key DID) becomes the list's issuer, and must be trusted for
// CredentialType.
type CreateArgs struct {
	ID             string `json:"id"`
	Purpose        string `json:"purpose"`
	Size           uint64 `json:"size"` // bits: MinListBits..MaxListBits, a multiple of ChunkBits
	CredentialType string `json:"credential_type"`
	As             string `json:"as,omitempty"`
}

// SetArgs are the arguments of status.set.
type SetArgs struct {
	ID     string `json:"id"`
	Index  uint64 `json:"index"`
	Action string `json:"action"`
	As     string `json:"as,omitempty"` // the issuer DID the signer acts as
}

// List is a status list's stored metadata.
type List struct {
	Issuer, ID, Purpose, CredentialType string
	Size                                uint64
	Height                              uint64 // block that created it
}

func (l *List) encode() []byte {
	w := codec.NewWriter(128)
	w.String(l.Issuer)
	w.String(l.ID)
	w.String(l.Purpose)
	w.String(l.CredentialType)
	w.Uint(l.Size)
	w.Uint(l.Height)
	return w.Bytes()
}

// DecodeList strictly decodes stored list metadata.
func DecodeList(b []byte) (*List, error) {
	r := codec.NewReader(b)
	l := &List{Issuer: r.String("list.issuer", did.MaxDIDLen), ID: r.String("list.id", 64), Purpose: r.String("list.purpose", 16),
		CredentialType: r.String("list.credential_type", MaxCredentialTypeLen), Size: r.Uint("list.size"), Height: r.Uint("list.height")}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: status list: %w", ErrCorrupt, err)
	}
	if l.Size < MinListBits || l.Size > MaxListBits || l.Size%ChunkBits != 0 || (l.Purpose != PurposeRevocation && l.Purpose != PurposeSuspension) {
		return nil, fmt.Errorf("%w: status list %s size %d purpose %q", ErrCorrupt, l.ID, l.Size, l.Purpose)
	}
	return l, nil
}

func listKey(issuer, id string) []byte {
	k := append([]byte("l/"), issuer...)
	k = append(k, 0)
	return append(k, id...)
}

func chunkKey(issuer, id string, chunk uint32) []byte {
	k := append([]byte("c/"), issuer...)
	k = append(k, 0)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, chunk)
}

// ListStateKey is the full state key of a list's metadata.
func ListStateKey(issuer, id string) []byte {
	return module.StateKey(StatusModule, listKey(issuer, id))
}

// ChunkStateKey is the full state key of the chunk holding bit index.
func ChunkStateKey(issuer, id string, index uint64) []byte {
	return module.StateKey(StatusModule, chunkKey(issuer, id, uint32(index/ChunkBits)))
}

func readList(g getter, issuer, id string) (*List, error) {
	raw, err := g(StatusModule, listKey(issuer, id))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: status list %s of %s", ErrNotFound, id, issuer)
	}
	l, err := DecodeList(raw)
	if err != nil {
		return nil, err
	}
	if l.Issuer != issuer || l.ID != id {
		return nil, fmt.Errorf("%w: status list key holds %s of %s", ErrCorrupt, l.ID, l.Issuer)
	}
	return l, nil
}

// GetList returns a list's metadata.
func GetList(read Reader, issuer, id string) (*List, error) {
	return readList(read.getter(), issuer, id)
}

func readChunk(g getter, issuer, id string, index uint64) ([]byte, error) {
	c, err := g(StatusModule, chunkKey(issuer, id, uint32(index/ChunkBits)))
	if err != nil {
		return nil, err
	}
	if c != nil && len(c) != ChunkBytes {
		return nil, fmt.Errorf("%w: status chunk of %d bytes", ErrCorrupt, len(c))
	}
	return c, nil
}

// ChunkBit reads bit index from chunk, the value proven under
// ChunkStateKey(issuer, id, index) (nil when proven absent: all zeros).
func ChunkBit(chunk []byte, index uint64) (bool, error) {
	if chunk == nil {
		return false, nil
	}
	if len(chunk) != ChunkBytes {
		return false, fmt.Errorf("%w: status chunk of %d bytes", ErrCorrupt, len(chunk))
	}
	i := index % ChunkBits
	return chunk[i/8]&(0x80>>(i%8)) != 0, nil
}

// StatusBit reads bit index of issuer's list id: true means revoked or
// suspended, by the list's purpose.
func StatusBit(read Reader, issuer, id string, index uint64) (bool, error) {
	g := read.getter()
	l, err := readList(g, issuer, id)
	if err != nil {
		return false, err
	}
	if index >= l.Size {
		return false, fmt.Errorf("%w: %d of %d", ErrBadIndex, index, l.Size)
	}
	c, err := readChunk(g, issuer, id, index)
	if err != nil {
		return false, err
	}
	return ChunkBit(c, index)
}

// Bitstring assembles a list's whole bitstring (Size/8 bytes) from its
// chunks.
func Bitstring(read Reader, issuer, id string) ([]byte, error) {
	g := read.getter()
	l, err := readList(g, issuer, id)
	if err != nil {
		return nil, err
	}
	out := make([]byte, l.Size/8)
	for i := uint64(0); i < l.Size; i += ChunkBits {
		c, err := readChunk(g, issuer, id, i)
		if err != nil {
			return nil, err
		}
		copy(out[i/8:], c)
	}
	return out, nil
}

// EncodeList returns the spec's encodedList of a bitstring: multibase
// base64url without padding ("u") of its GZIP compression.
func EncodeList(bits []byte) (string, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(bits); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// Status is the status list module.
type Status struct{ cfg *config }

var _ module.Configurable = Status{}

// Name implements module.Module.
func (Status) Name() string { return StatusModule }

// Configure implements module.Configurable.
func (Status) Configure(env module.Env) (module.Module, error) {
	if _, ok := env.Params[StatusModule]; ok {
		return nil, fmt.Errorf("%w: status takes no parameters", module.ErrParams)
	}
	c, err := newConfig(env)
	if err != nil {
		return nil, err
	}
	return Status{cfg: c}, nil
}

// Methods implements module.Module.
func (m Status) Methods() []module.Method {
	return []module.Method{
		{Name: "create", Handler: m.cfg.handler(createList)},
		{Name: "set", Handler: m.cfg.handler(setStatus)},
	}
}

func checkListID(id string) error {
	if !listID.MatchString(id) {
		return fmt.Errorf("%w: list id must match %s", ErrBadArgs, listID)
	}
	return nil
}

func createList(c *config, ctx *module.Context, args []byte) error {
	var a CreateArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if err := checkListID(a.ID); err != nil {
		return err
	}
	if a.Purpose != PurposeRevocation && a.Purpose != PurposeSuspension {
		return fmt.Errorf("%w: purpose must be %s or %s", ErrBadArgs, PurposeRevocation, PurposeSuspension)
	}
	if a.Size < MinListBits || a.Size > MaxListBits || a.Size%ChunkBits != 0 {
		return fmt.Errorf("%w: size must be a multiple of %d in %d..%d", ErrBadArgs, ChunkBits, MinListBits, MaxListBits)
	}
	if err := checkCredentialType(a.CredentialType); err != nil {
		return err
	}
	g := ctx.GetFrom
	issuer, err := c.actor(g, ctx.Sender, a.As)
	if err != nil {
		return err
	}
	if ok, err := mayIssue(g, issuer, a.CredentialType); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %s, %s", ErrNotTrusted, issuer, a.CredentialType)
	}
	k := listKey(issuer, a.ID)
	if v, err := ctx.Get(k); err != nil {
		return err
	} else if v != nil {
		return fmt.Errorf("%w: status list %s", ErrExists, a.ID)
	}
	l := &List{Issuer: issuer, ID: a.ID, Purpose: a.Purpose, CredentialType: a.CredentialType, Size: a.Size, Height: ctx.Block.Height}
	if err := ctx.Set(k, l.encode()); err != nil {
		return err
	}
	return ctx.Emit("status_list_created", "issuer", issuer, "id", a.ID, "purpose", a.Purpose, "size", strconv.FormatUint(a.Size, 10))
}

func setStatus(c *config, ctx *module.Context, args []byte) error {
	var a SetArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if err := checkListID(a.ID); err != nil {
		return err
	}
	g := ctx.GetFrom
	issuer, err := c.actor(g, ctx.Sender, a.As)
	if err != nil {
		return err
	}
	l, err := readList(g, issuer, a.ID) // only the issuer's own lists are found
	if err != nil {
		return err
	}
	if a.Index >= l.Size {
		return fmt.Errorf("%w: %d of %d", ErrBadIndex, a.Index, l.Size)
	}
	var set bool
	switch {
	case l.Purpose == PurposeRevocation && a.Action == ActionRevoke:
		set = true
	case l.Purpose == PurposeRevocation && a.Action == ActionUnsuspend:
		return ErrRevocationFinal
	case l.Purpose == PurposeSuspension && (a.Action == ActionSuspend || a.Action == ActionUnsuspend):
		set = a.Action == ActionSuspend
	default:
		return fmt.Errorf("%w: %q on a %s list", ErrBadAction, a.Action, l.Purpose)
	}
	chunk, err := readChunk(g, issuer, a.ID, a.Index)
	if err != nil {
		return err
	}
	if chunk == nil {
		chunk = make([]byte, ChunkBytes)
	} else {
		chunk = bytes.Clone(chunk)
	}
	i := a.Index % ChunkBits
	mask := byte(0x80 >> (i % 8))
	if (chunk[i/8]&mask != 0) == set {
		return nil // already so: retries are harmless
	}
	chunk[i/8] ^= mask
	k := chunkKey(issuer, a.ID, uint32(a.Index/ChunkBits))
	if allZero(chunk) {
		err = ctx.Delete(k)
	} else {
		err = ctx.Set(k, chunk)
	}
	if err != nil {
		return err
	}
	return ctx.Emit("status_set", "issuer", issuer, "id", a.ID, "index", strconv.FormatUint(a.Index, 10), "action", a.Action)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
