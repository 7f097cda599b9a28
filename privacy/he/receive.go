package he

import "fmt"

// receive decodes and authenticates data for the receiver selfID: the
// message must be for q, come from a roster member or the aggregator with a
// valid signature, and be addressed to selfID or broadcast.
func receive(q *Query, selfID string, data []byte) (*Message, error) {
	m, err := DecodeMessage(data)
	if err != nil {
		return nil, err
	}
	if m.Query != q.ID {
		return nil, fmt.Errorf("%w: %q, this is %q", ErrWrongQuery, m.Query, q.ID)
	}
	key := q.signKey(m.Sender)
	if key == nil {
		return nil, fmt.Errorf("%w: %q is not in query %q", ErrUnknownSender, m.Sender, q.ID)
	}
	if err := m.Verify(key); err != nil {
		return nil, err
	}
	if m.Sender == selfID {
		return nil, fmt.Errorf("%w: own %s", ErrMisaddressed, m.Kind)
	}
	if m.To != "" && m.To != selfID {
		return nil, fmt.Errorf("%w: %s for %q", ErrMisaddressed, m.Kind, m.To)
	}
	return m, nil
}

// expect checks that m is a broadcast (to == "") or addressed (to != "")
// message from a member, and returns the member's index.
func expect(q *Query, m *Message, broadcast bool) (int, error) {
	i := q.index(m.Sender)
	if i < 0 {
		return 0, fmt.Errorf("%w: %s must come from a member, not %q", ErrUnknownSender, m.Kind, m.Sender)
	}
	if broadcast != (m.To == "") {
		return 0, fmt.Errorf("%w: %s with recipient %q", ErrMisaddressed, m.Kind, m.To)
	}
	return i, nil
}
