package raftlog

import (
	"fmt"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain/codec"
)

// entryVersion is the first byte of every stored log entry.
const entryVersion = 1

// maxLogType bounds the raft.LogType values stored (LogConfiguration is the
// last one raft v1.7 defines).
const maxLogType = uint64(hraft.LogConfiguration)

// EncodeLog is an entry's stored (and wire) form: version, index, term, type, data,
// extensions, then AppendedAt as Unix nanoseconds (0 for the zero time).
func EncodeLog(l *hraft.Log) ([]byte, error) {
	if len(l.Data) > MaxData || len(l.Extensions) > MaxExtensions {
		return nil, fmt.Errorf("%w: log %d: %d data and %d extension bytes", ErrTooLarge, l.Index, len(l.Data), len(l.Extensions))
	}
	w := codec.NewWriter(32 + len(l.Data) + len(l.Extensions))
	w.Byte(entryVersion)
	w.Uint(l.Index)
	w.Uint(l.Term)
	w.Byte(byte(l.Type))
	w.VarBytes(l.Data)
	w.VarBytes(l.Extensions)
	var at uint64
	if !l.AppendedAt.IsZero() {
		at = uint64(l.AppendedAt.UnixNano())
	}
	w.Uint(at)
	return w.Bytes(), nil
}

// DecodeLog strictly decodes a stored entry; the result owns its bytes.
func DecodeLog(b []byte) (*hraft.Log, error) {
	r := codec.NewReader(b)
	if v := r.Byte("entry.version"); r.Err() == nil && v != entryVersion {
		r.Failf("entry.version", "unsupported %d", v)
	}
	l := &hraft.Log{Index: r.Uint("entry.index"), Term: r.Uint("entry.term")}
	l.Type = hraft.LogType(r.UintMax("entry.type", maxLogType))
	l.Data = clone(r.VarBytes("entry.data", MaxData))
	l.Extensions = clone(r.VarBytes("entry.extensions", MaxExtensions))
	if at := r.Uint("entry.appended_at"); at != 0 {
		l.AppendedAt = time.Unix(0, int64(at))
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return l, nil
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
