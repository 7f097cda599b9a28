package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
)

// Wire format, after the TLS handshake and the hello exchange:
//
//	frame  = length:uint32be body
//	body   = chainLen:uint8 chainID:[chainLen]byte payload
//
// length counts the body; chainID satisfies chain.ValidName (so 1..64 bytes)
// and the payload is at most consensus.MaxMessageSize bytes.
const (
	// MaxChainIDLen bounds a chain ID on the wire (chain.ValidName's limit).
	MaxChainIDLen = 64
	// maxFrameBody bounds a frame's body: chain ID header plus the largest
	// engine message.
	maxFrameBody = 1 + MaxChainIDLen + consensus.MaxMessageSize
	// maxHeader is the largest frame header (length, chain ID length, ID).
	maxHeader = 4 + 1 + MaxChainIDLen
	// eagerAlloc is the largest body allocated up front; longer bodies grow
	// as bytes arrive, so a lying length prefix cannot make us allocate 16 MiB.
	eagerAlloc = 64 << 10
)

// Frame errors. Every one is a protocol violation that closes the connection.
var (
	ErrFrameTooLarge = errors.New("p2p: frame too large")
	ErrBadFrame      = errors.New("p2p: malformed frame")
)

// appendFrameHeader appends the header of a frame carrying n payload bytes
// for chainID (which the caller has validated).
func appendFrameHeader(b []byte, chainID string, n int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(1+len(chainID)+n))
	b = append(b, byte(len(chainID)))
	return append(b, chainID...)
}

// encodeFrame returns the complete frame (tests and fuzzing).
func encodeFrame(chainID string, payload []byte) []byte {
	b := appendFrameHeader(make([]byte, 0, maxHeader+len(payload)), chainID, len(payload))
	return append(b, payload...)
}

// readFrame reads one frame from r. It rejects frames whose declared length
// exceeds maxFrameBody before reading their body (ErrFrameTooLarge) and
// frames whose chain ID is not a valid chain name (ErrBadFrame). The returned
// payload is freshly allocated and owned by the caller.
func readFrame(r io.Reader) (chainID string, payload []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return "", nil, err // io.EOF on a clean boundary
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n > maxFrameBody {
		return "", nil, fmt.Errorf("%w: %d-byte body (max %d)", ErrFrameTooLarge, n, maxFrameBody)
	}
	if n < 1 {
		return "", nil, fmt.Errorf("%w: empty body", ErrBadFrame)
	}
	if _, err := io.ReadFull(r, hdr[4:5]); err != nil {
		return "", nil, noEOF(err)
	}
	c := uint32(hdr[4])
	if c > MaxChainIDLen || c > n-1 {
		return "", nil, fmt.Errorf("%w: chain ID length %d", ErrBadFrame, c)
	}
	var idb [MaxChainIDLen]byte
	if _, err := io.ReadFull(r, idb[:c]); err != nil {
		return "", nil, noEOF(err)
	}
	if !chain.ValidName(string(idb[:c])) {
		return "", nil, fmt.Errorf("%w: invalid chain ID %q", ErrBadFrame, idb[:c])
	}
	chainID = string(idb[:c])
	payload, err = readN(r, int(n-1-c))
	if err != nil {
		return "", nil, err
	}
	return chainID, payload, nil
}

// readN reads exactly n bytes, growing the buffer as data arrives.
func readN(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, eagerAlloc))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), cap(buf)))
		}
		m, err := io.ReadFull(r, buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, noEOF(err)
		}
	}
	return buf, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Hello, exchanged once after the TLS handshake (dialer first):
//
//	hello = magic:"PLP2" version:uint16be idLen:uint8 nodeID:[idLen]byte
const helloMagic = "PLP2"

func appendHello(b []byte, id string) []byte {
	b = append(b, helloMagic...)
	b = binary.BigEndian.AppendUint16(b, ProtocolVersion)
	b = append(b, byte(len(id)))
	return append(b, id...)
}

func readHello(r io.Reader) (version uint16, id string, err error) {
	var hdr [7]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, "", noEOF(err)
	}
	if string(hdr[:4]) != helloMagic {
		return 0, "", fmt.Errorf("%w: bad hello magic", ErrBadFrame)
	}
	idb := make([]byte, hdr[6])
	if _, err := io.ReadFull(r, idb); err != nil {
		return 0, "", noEOF(err)
	}
	return binary.BigEndian.Uint16(hdr[4:6]), string(idb), nil
}
