//go:build e2e

package e2e

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SmartBFT's WAL (pkg/wal) is a directory of files named %016x.wal. Each
// file is a sequence of records: an 8-byte little-endian header (length in
// the low 32 bits, running CRC-32C in the high 32) and the protobuf payload
// padded to 8 bytes. The first record of a file is its CRC anchor.

// newestWAL returns the newest WAL file of chainID in home.
func newestWAL(home, chainID string) (string, error) {
	dir := filepath.Join(home, "chains", chainID, "wal")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".wal") && len(e.Name()) == 16+len(".wal") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no WAL file in %s", dir)
	}
	sort.Strings(names) // fixed-width hex: lexical order is numeric order
	return filepath.Join(dir, names[len(names)-1]), nil
}

type walRecord struct{ off, size int } // size includes header and padding

// walRecords splits a WAL file into its complete records.
func walRecords(b []byte) []walRecord {
	var recs []walRecord
	for off := 0; off+8 <= len(b); {
		n := int(binary.LittleEndian.Uint64(b[off:]) & 0xFFFFFFFF)
		size := 8 + n + (8-n%8)%8
		if off+size > len(b) {
			break
		}
		recs = append(recs, walRecord{off, size})
		off += size
	}
	return recs
}

// lastWALRecord returns the newest WAL file of chainID in home, its bytes
// and its last record (never the CRC anchor).
func lastWALRecord(home, chainID string) (string, []byte, walRecord, error) {
	path, err := newestWAL(home, chainID)
	if err != nil {
		return "", nil, walRecord{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, walRecord{}, err
	}
	recs := walRecords(b)
	if len(recs) < 2 {
		return "", nil, walRecord{}, fmt.Errorf("%s (%d bytes) holds %d records: nothing after the CRC anchor", path, len(b), len(recs))
	}
	last := recs[len(recs)-1]
	if last.off+last.size != len(b) {
		return "", nil, walRecord{}, fmt.Errorf("%s: %d bytes after the last whole record", path, len(b)-last.off-last.size)
	}
	return path, b, last, nil
}

// tearWALTail truncates the newest WAL file of chainID in the middle of its
// last record, as a crash during the write would leave it. It returns the
// file and how many bytes it cut.
func tearWALTail(home, chainID string) (string, int, error) {
	path, b, last, err := lastWALRecord(home, chainID)
	if err != nil {
		return "", 0, err
	}
	cut := last.size / 2
	return path, cut, os.Truncate(path, int64(len(b)-cut))
}

// flipWALTail flips one byte in the payload of the last record of the
// newest WAL file of chainID (the record's CRC no longer matches). It
// returns the file and the offset of the byte.
func flipWALTail(home, chainID string) (string, int, error) {
	path, b, last, err := lastWALRecord(home, chainID)
	if err != nil {
		return "", 0, err
	}
	at := last.off + 8 + (last.size-8)/2
	b[at] ^= 0x40
	return path, at, os.WriteFile(path, b, 0o600)
}
