package he

import "errors"

// Errors returned by this package; test with errors.Is.
var (
	// ErrConfig: a Query, Identity or input vector is invalid.
	ErrConfig = errors.New("he: invalid configuration")
	// ErrMalformed: a message or payload does not decode strictly.
	ErrMalformed = errors.New("he: malformed message")
	// ErrBadSignature: a message's signature does not verify under the
	// sender's key from the query roster.
	ErrBadSignature = errors.New("he: bad message signature")
	// ErrWrongQuery: a message belongs to another query.
	ErrWrongQuery = errors.New("he: message for another query")
	// ErrUnknownSender: the sender is not in the roster, or may not send
	// this kind of message.
	ErrUnknownSender = errors.New("he: sender not allowed")
	// ErrMisaddressed: the message is addressed to someone else or is of a
	// kind the receiver does not take.
	ErrMisaddressed = errors.New("he: message not for this receiver")
	// ErrDuplicate: a second message of the same kind from the same sender.
	ErrDuplicate = errors.New("he: duplicate message")
	// ErrMismatch: a message refers to a public key or aggregate that
	// differs from the receiver's own.
	ErrMismatch = errors.New("he: inconsistent key or aggregate")
	// ErrWrongPhase: the call or message does not fit the protocol phase.
	ErrWrongPhase = errors.New("he: wrong protocol phase")
	// ErrAborted: the query was aborted; no further messages are taken.
	ErrAborted = errors.New("he: query aborted")
	// ErrNotEnoughShares: fewer than the threshold of decryption shares
	// arrived, so the result cannot be decrypted.
	ErrNotEnoughShares = errors.New("he: fewer decryption shares than the threshold")
)
