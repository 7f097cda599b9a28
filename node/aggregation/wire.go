package aggregation

import (
	"errors"
	"fmt"

	"github.com/polityledger/polity/privacy/he"
)

// Frames on the mesh channel:
//
//	data = 0x01 | encoded he.Message (signed by its sender; at most he.MaxMessageSize)
//	ack  = 0x02 | he.MessageHash of the acknowledged data (32 bytes)
//
// The mesh authenticates the sending node (TLS 1.3 with pinned node keys);
// the driver also checks that a data frame's protocol sender is that node.
// A receiver acknowledges a message once the local party or aggregator took
// it (or refused it for good); the sender retransmits unacknowledged messages
// with back-off until acknowledged or the query ends. A redelivered message
// is answered ErrDuplicate by privacy/he and acknowledged again.
const (
	frameData byte = 1
	frameAck  byte = 2
)

// ErrBadFrame: a frame that does not decode.
var ErrBadFrame = errors.New("aggregation: malformed frame")

func dataFrame(msg []byte) []byte { return append([]byte{frameData}, msg...) }

func ackFrame(h [32]byte) []byte { return append([]byte{frameAck}, h[:]...) }

// decodeFrame splits a frame into its kind and body, checking the bounds.
func decodeFrame(b []byte) (kind byte, body []byte, err error) {
	if len(b) < 1 {
		return 0, nil, fmt.Errorf("%w: empty", ErrBadFrame)
	}
	switch b[0] {
	case frameData:
		if len(b)-1 > he.MaxMessageSize {
			return 0, nil, fmt.Errorf("%w: data of %d bytes", ErrBadFrame, len(b)-1)
		}
	case frameAck:
		if len(b) != 1+32 {
			return 0, nil, fmt.Errorf("%w: ack of %d bytes", ErrBadFrame, len(b)-1)
		}
	default:
		return 0, nil, fmt.Errorf("%w: kind %d", ErrBadFrame, b[0])
	}
	return b[0], b[1:], nil
}
