package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/privacy/zk"
)

// ZKKeysModule publishes what a verifier of zero-knowledge predicate
// proofs (privacy/zk) must take from the identity chain rather than from
// the prover:
//
//   - per predicate, the Groth16 verifying key from the setup ceremony and
//     its hash (zk.VerifyingKey.Hash). Only admins covering
//     (chain, zkkeys, publish_verifying_key) publish or replace one: the key
//     is the federation's, and a key from an unchecked ceremony would let
//     whoever ran it forge proofs.
//   - per issuer DID, its BN254 EdDSA public key (zk.IssuerPublicKey), which
//     signs credential commitments. The issuer sets it itself, acting as its
//     DID (as it signs with its DID's keys): an admin cannot, since a key an
//     admin chose would let the admin sign credentials in the issuer's name.
//     A registered issuer DID must be active. Replacing the key invalidates
//     every credential signed with the old one (proofs name the key the
//     verifier checks against the current one): that is key rotation and
//     mass revocation at once.
//
// The issuer key lives here, not in the DID document: documents hold the
// chain suite's verification methods (Ed25519 or SM2) whose keys the
// registry checks against that suite, and the BN254 key is not one that
// signs transactions. A separate entry is one provable state key a
// verifier reads, validated as a subgroup point on write.
const ZKKeysModule = "zkkeys"

// ZKKeys method names.
const (
	MethodPublishVerifyingKey = "publish_verifying_key"
	MethodSetIssuerKey        = "set_issuer_key"
)

// MaxZKVerifyingKeyLen bounds a published verifying key (the real ones are
// 585..649 bytes).
const MaxZKVerifyingKeyLen = 4096

// costZKKeyCheck is the work charged for decoding and checking a verifying
// key (point decompression, subgroup checks, one pairing).
const costZKKeyCheck = 200_000

// PublishVerifyingKeyArgs are the arguments of zkkeys.publish_verifying_key.
type PublishVerifyingKeyArgs struct {
	Predicate string `json:"predicate"` // zk.Predicate.String(), e.g. "age-at-least"
	Key       []byte `json:"key"`       // zk.VerifyingKey.MarshalBinary
	As        string `json:"as,omitempty"`
}

// SetIssuerKeyArgs are the arguments of zkkeys.set_issuer_key. The signer
// acts as Issuer (As defaults to Issuer).
type SetIssuerKeyArgs struct {
	Issuer string `json:"issuer"`
	Key    []byte `json:"key"` // zk.IssuerPublicKey, 32 bytes
}

// ZKVerifyingKey is the stored entry of a predicate's verifying key.
type ZKVerifyingKey struct {
	Predicate string
	Key       []byte
	Hash      [32]byte // SHA-256 of Key: zk.VerifyingKey.Hash
	Version   uint64   // 1 for the first publication, +1 per replacement
	By        string   // the admin who published it
	Height    uint64
}

// ZKIssuerKey is the stored entry of an issuer's BN254 public key.
type ZKIssuerKey struct {
	Issuer  string
	Key     zk.IssuerPublicKey
	Version uint64
	Height  uint64
}

const zkEntryEncoding = 1

func (e *ZKVerifyingKey) encode() []byte {
	w := codec.NewWriter(96 + len(e.Key))
	w.Byte(zkEntryEncoding)
	w.String(e.Predicate)
	w.VarBytes(e.Key)
	w.Fixed(e.Hash[:])
	w.Uint(e.Version)
	w.String(e.By)
	w.Uint(e.Height)
	return w.Bytes()
}

// DecodeZKVerifyingKey strictly decodes a stored verifying-key entry and
// checks its hash. It does not parse the key itself (zk.ParseVerifyingKey).
func DecodeZKVerifyingKey(b []byte) (*ZKVerifyingKey, error) {
	r := codec.NewReader(b)
	if x := r.Byte("zkvk.encoding"); r.Err() == nil && x != zkEntryEncoding {
		r.Failf("zkvk.encoding", "unsupported %d", x)
	}
	e := &ZKVerifyingKey{Predicate: r.String("zkvk.predicate", 32), Key: r.VarBytes("zkvk.key", MaxZKVerifyingKeyLen)}
	r.Hash32("zkvk.hash", &e.Hash)
	e.Version = r.Uint("zkvk.version")
	e.By = r.String("zkvk.by", did.MaxDIDLen)
	e.Height = r.Uint("zkvk.height")
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: zk verifying key: %w", ErrCorrupt, err)
	}
	if _, err := zk.ParsePredicate(e.Predicate); err != nil || e.Version == 0 || sha256.Sum256(e.Key) != e.Hash {
		return nil, fmt.Errorf("%w: zk verifying key entry for %q", ErrCorrupt, e.Predicate)
	}
	return e, nil
}

func (e *ZKIssuerKey) encode() []byte {
	w := codec.NewWriter(64 + len(e.Issuer))
	w.Byte(zkEntryEncoding)
	w.String(e.Issuer)
	w.Fixed(e.Key[:])
	w.Uint(e.Version)
	w.Uint(e.Height)
	return w.Bytes()
}

// DecodeZKIssuerKey strictly decodes a stored issuer-key entry, the key
// validated as a point of the prime-order subgroup.
func DecodeZKIssuerKey(b []byte) (*ZKIssuerKey, error) {
	r := codec.NewReader(b)
	if x := r.Byte("zkik.encoding"); r.Err() == nil && x != zkEntryEncoding {
		r.Failf("zkik.encoding", "unsupported %d", x)
	}
	e := &ZKIssuerKey{Issuer: r.String("zkik.issuer", did.MaxDIDLen)}
	raw := r.Fixed("zkik.key", zk.IssuerPublicKeySize)
	e.Version = r.Uint("zkik.version")
	e.Height = r.Uint("zkik.height")
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: zk issuer key: %w", ErrCorrupt, err)
	}
	k, err := zk.ParseIssuerPublicKey(raw)
	if err != nil || e.Version == 0 {
		return nil, fmt.Errorf("%w: zk issuer key of %s", ErrCorrupt, e.Issuer)
	}
	e.Key = k
	return e, nil
}

func zkVKKey(pred string) []byte { return append([]byte("vk/"), pred...) }

func zkIssuerKey(issuer string) []byte { return append([]byte("ik/"), issuer...) }

// ZKVerifyingKeyStateKey is the full state key of predicate pred's
// verifying key (pred as zk.Predicate.String names it).
func ZKVerifyingKeyStateKey(pred string) []byte {
	return module.StateKey(ZKKeysModule, zkVKKey(pred))
}

// ZKIssuerKeyStateKey is the full state key of issuer's BN254 public key.
func ZKIssuerKeyStateKey(issuer string) []byte {
	return module.StateKey(ZKKeysModule, zkIssuerKey(issuer))
}

// GetZKVerifyingKey returns the verifying key published for pred, or
// ErrNotFound.
func GetZKVerifyingKey(read Reader, pred zk.Predicate) (*ZKVerifyingKey, error) {
	raw, err := read(ZKVerifyingKeyStateKey(pred.String()))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: no verifying key published for %s", ErrNotFound, pred)
	}
	e, err := DecodeZKVerifyingKey(raw)
	if err != nil {
		return nil, err
	}
	if e.Predicate != pred.String() {
		return nil, fmt.Errorf("%w: verifying key entry of %s holds %s", ErrCorrupt, pred, e.Predicate)
	}
	return e, nil
}

// GetZKIssuerKey returns the BN254 key issuer published, or ErrNotFound.
func GetZKIssuerKey(read Reader, issuer string) (*ZKIssuerKey, error) {
	if _, err := did.Parse(issuer); err != nil {
		return nil, fmt.Errorf("%w: issuer: %w", ErrBadArgs, err)
	}
	raw, err := read(ZKIssuerKeyStateKey(issuer))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: %s has published no zk issuer key", ErrNotFound, issuer)
	}
	e, err := DecodeZKIssuerKey(raw)
	if err != nil {
		return nil, err
	}
	if e.Issuer != issuer {
		return nil, fmt.Errorf("%w: issuer key entry of %s holds %s", ErrCorrupt, issuer, e.Issuer)
	}
	return e, nil
}

// ZKKeys is the zero-knowledge key registry module.
type ZKKeys struct{ cfg *config }

var _ module.Configurable = ZKKeys{}

// Name implements module.Module.
func (ZKKeys) Name() string { return ZKKeysModule }

// Configure implements module.Configurable.
func (ZKKeys) Configure(env module.Env) (module.Module, error) {
	if _, ok := env.Params[ZKKeysModule]; ok {
		return nil, fmt.Errorf("%w: zkkeys takes no parameters (registry parameters go under %q)", module.ErrParams, RolesModule)
	}
	c, err := newConfig(env)
	if err != nil {
		return nil, err
	}
	return ZKKeys{cfg: c}, nil
}

// Methods implements module.Module.
func (m ZKKeys) Methods() []module.Method {
	return []module.Method{
		{Name: MethodPublishVerifyingKey, Handler: m.cfg.handler(publishVerifyingKey)},
		{Name: MethodSetIssuerKey, Handler: m.cfg.handler(setIssuerKey)},
	}
}

func publishVerifyingKey(c *config, ctx *module.Context, args []byte) error {
	var a PublishVerifyingKeyArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	pred, err := zk.ParsePredicate(a.Predicate)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	if len(a.Key) == 0 || len(a.Key) > MaxZKVerifyingKeyLen {
		return fmt.Errorf("%w: key must be 1..%d bytes", ErrBadArgs, MaxZKVerifyingKeyLen)
	}
	g := ctx.GetFrom
	admin, err := c.actor(g, ctx.Sender, a.As)
	if err != nil {
		return err
	}
	ok, err := hasRole(g, c.params, admin, RoleAdmin, Scope{c.chainID, ZKKeysModule, MethodPublishVerifyingKey})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s is not an admin of %s.%s", ErrNotAuthorised, admin, ZKKeysModule, MethodPublishVerifyingKey)
	}
	if err := ctx.Charge(costZKKeyCheck); err != nil {
		return err
	}
	vk, err := zk.ParseVerifyingKey(a.Key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	if vk.Predicate() != pred {
		return fmt.Errorf("%w: the key is for %s, not %s", ErrBadArgs, vk.Predicate(), pred)
	}
	e := &ZKVerifyingKey{Predicate: pred.String(), Key: a.Key, Hash: sha256.Sum256(a.Key), Version: 1, By: admin, Height: ctx.Block.Height}
	k := zkVKKey(e.Predicate)
	cur, err := ctx.Get(k)
	if err != nil {
		return err
	}
	if cur != nil {
		old, err := DecodeZKVerifyingKey(cur)
		if err != nil {
			return err
		}
		if old.Hash == e.Hash {
			return fmt.Errorf("%w: %s's verifying key is already this one", ErrUnchanged, e.Predicate)
		}
		e.Version = old.Version + 1
	}
	if err := ctx.Set(k, e.encode()); err != nil {
		return err
	}
	return ctx.Emit("zk_verifying_key_published", "predicate", e.Predicate, "hash", hex.EncodeToString(e.Hash[:]),
		"version", strconv.FormatUint(e.Version, 10), "by", admin)
}

func setIssuerKey(c *config, ctx *module.Context, args []byte) error {
	var a SetIssuerKeyArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if _, err := did.Parse(a.Issuer); err != nil {
		return fmt.Errorf("%w: issuer: %w", ErrBadArgs, err)
	}
	key, err := zk.ParseIssuerPublicKey(a.Key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	if len(zkIssuerKey(a.Issuer)) > module.MaxKeyLen {
		return fmt.Errorf("%w: issuer DID too long", ErrBadArgs)
	}
	// The signer must act as the issuer itself (a current key of its
	// active DID, or the key DID's own key).
	if _, err := c.actor(ctx.GetFrom, ctx.Sender, a.Issuer); err != nil {
		return err
	}
	e := &ZKIssuerKey{Issuer: a.Issuer, Key: key, Version: 1, Height: ctx.Block.Height}
	k := zkIssuerKey(a.Issuer)
	cur, err := ctx.Get(k)
	if err != nil {
		return err
	}
	if cur != nil {
		old, err := DecodeZKIssuerKey(cur)
		if err != nil {
			return err
		}
		if old.Key == key {
			return fmt.Errorf("%w: %s's issuer key is already this one", ErrUnchanged, a.Issuer)
		}
		e.Version = old.Version + 1
	}
	if err := ctx.Set(k, e.encode()); err != nil {
		return err
	}
	return ctx.Emit("zk_issuer_key_set", "issuer", a.Issuer, "key", hex.EncodeToString(key[:]), "version", strconv.FormatUint(e.Version, 10))
}
