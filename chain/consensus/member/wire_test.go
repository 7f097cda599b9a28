package member

import (
	"bytes"
	"log/slog"
	"slices"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

func TestSetEndedRoundTrip(t *testing.T) {
	tag := setTag{1, 2, 3, 4, 5, 6, 7, 8}
	msg := encodeEnded(tag, 300)
	if msg[0] != kindSetEnded {
		t.Fatalf("kind %x", msg[0])
	}
	got, head, err := decodeEnded(msg[1:])
	if err != nil || got != tag || head != 300 {
		t.Fatalf("decoded %x %d %v", got, head, err)
	}
	for _, bad := range [][]byte{msg[1:5], append(bytes.Clone(msg[1:]), 0), append(bytes.Clone(msg[1:len(msg)-2]), 0x80, 0x00)} {
		if _, _, err := decodeEnded(bad); err == nil {
			t.Fatalf("accepted %x", bad)
		}
	}
}

// FuzzDecodeEnded: a notice decodes only in its canonical form.
func FuzzDecodeEnded(f *testing.F) {
	f.Add(encodeEnded(setTag{9}, 0)[1:])
	f.Add(encodeEnded(setTag{1, 2, 3, 4, 5, 6, 7, 8}, 1<<40)[1:])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, body []byte) {
		tag, head, err := decodeEnded(body)
		if err != nil {
			return
		}
		if again := encodeEnded(tag, head); !bytes.Equal(again[1:], body) {
			t.Fatalf("%x decodes but encodes as %x", body, again[1:])
		}
	})
}

// headOnly is an App that knows only its head (what receiveEnded reads).
type headOnly struct {
	App
	height uint64
}

func (a headOnly) Head() chain.Header { return chain.Header{Height: a.height} }

// IDs numbers nodes as simnet's cluster does: IDs[k-1] is node k (exported
// for the package's external tests).
type IDs []string

func (d IDs) Number(id string) uint64 {
	if i := slices.Index(d, id); i >= 0 {
		return uint64(i) + 1
	}
	return 0
}

func (d IDs) ID(n uint64) string {
	if n == 0 || n > uint64(len(d)) {
		return ""
	}
	return d[n-1]
}

type runningEngine struct{ Engine }

// TestSetEndedNoticeNeedsMembers: a notice that the running set ended stops
// the engine only when it comes from the set's members, f+1 of them on a
// BFT set (one may lie), never from an outsider; on a crash-fault-only set
// one member suffices. The catch-up target is the lowest claimed head.
func TestSetEndedNoticeNeedsMembers(t *testing.T) {
	for _, cft := range []bool{false, true} {
		vs := &chain.ValidatorSet{CrashFaultOnly: cft}
		for _, id := range []string{"v1", "v2", "v3", "v4"} {
			vs.Validators = append(vs.Validators, chain.Validator{ID: id})
		}
		r := &Runner{cfg: Config{App: headOnly{height: 10}, Dir: IDs{"v1", "v2", "v3", "v4", "outsider"}, ChainID: "c",
			Logger: slog.New(slog.DiscardHandler)}, behind: make(chan behind, 1)}
		tag := setTag{9}
		r.setEngine(runningEngine{}, vs, tag)
		stopped := func() (uint64, bool) {
			select {
			case b := <-r.behind:
				return b.height, true
			default:
				return 0, false
			}
		}
		r.receiveEnded(5, encodeEnded(tag, 1<<40)[1:])    // outsider
		r.receiveEnded(2, encodeEnded(setTag{8}, 50)[1:]) // another set
		r.receiveEnded(3, encodeEnded(tag, 10)[1:])       // not ahead
		if h, ok := stopped(); ok {
			t.Fatalf("cft=%v: stopped for %d on notices that prove nothing", cft, h)
		}
		r.receiveEnded(2, encodeEnded(tag, 1<<40)[1:])
		h, ok := stopped()
		if cft != ok {
			t.Fatalf("cft=%v: one member's notice stopped the engine: %v", cft, ok)
		}
		if cft {
			if h != 1<<40 {
				t.Fatalf("cft: catch up to %d", h)
			}
			continue
		}
		r.receiveEnded(4, encodeEnded(tag, 30)[1:])
		if h, ok := stopped(); !ok || h != 30 {
			t.Fatalf("f+1 members: stopped %v, to %d; want to 30 (the lowest claim)", ok, h)
		}
	}
}

// TestTagPerIncarnation: a set's tag names the height it took effect at
// too, so a set that returns (A, B, A) talks on a new tag.
func TestTagPerIncarnation(t *testing.T) {
	s := ed25519sha256.New()
	a, b := crypto.Hash{1}, crypto.Hash{2}
	if tagOf(s, a, 1) == tagOf(s, a, 30) || tagOf(s, a, 1) == tagOf(s, b, 1) {
		t.Fatal("two incarnations share a tag")
	}
}
