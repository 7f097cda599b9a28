package module

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// StrictJSON decodes one JSON value from b into v: unknown fields, and
// anything after the value (even a stray '}'), are errors. Modules decode
// their arguments with it so that one byte string has one meaning.
func StrictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}
