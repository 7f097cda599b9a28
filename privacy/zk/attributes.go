package zk

import (
	"fmt"
	"time"
)

// NumAttributes is the fixed arity of a credential's attribute vector.
//
// Layout (every attribute is a uint64):
//
//	index 0      AttrBirthDate: the birth date as DateValue (days since
//	             1970-01-01, biased by DateBias so that earlier dates stay
//	             non-negative); 0 if the credential type has no birth date.
//	index 1..7   defined by the credential type's schema, as recorded in the
//	             identity chain's trust registry (for example 1 = school or
//	             insurer ID, 2 = enrolment or coverage level, 3 = expiry as a
//	             DateValue). Unused slots are 0.
//
// Strings (names, school IDs) are mapped to uint64 codes by the schema; the
// circuits compare and look up uint64 values only.
const NumAttributes = 8

// AttrBirthDate is the index of the birth date attribute.
const AttrBirthDate = 0

// Attributes is a credential's attribute vector.
type Attributes [NumAttributes]uint64

// DateBias is added to the day count so dates before 1970 encode as
// non-negative integers: DateValue(1970-01-01) = 2^31.
const DateBias = 1 << 31

const secondsPerDay = 24 * 60 * 60

// DateValue encodes the calendar date of t (in t's location) as the number
// of days since 1970-01-01 plus DateBias.
func DateValue(t time.Time) uint64 {
	y, m, d := t.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	days := midnight.Unix() / secondsPerDay // exact: midnight UTC
	return uint64(days + DateBias)
}

// MaxAgeYears bounds the ages AgeCutoff accepts.
const MaxAgeYears = 200

// AgeCutoff returns the latest birth date (as DateValue) of someone who is at
// least years old on the calendar date of today: the same month and day,
// years earlier. A birthday on 29 February counts as reached on 1 March in
// non-leap years (Go's time.AddDate normalisation). The caller supplies
// today: a chain module passes the block time, never the wall clock.
func AgeCutoff(today time.Time, years int) (uint64, error) {
	if years < 0 || years > MaxAgeYears {
		return 0, fmt.Errorf("%w: age %d, want 0..%d", ErrBadInput, years, MaxAgeYears)
	}
	y, m, d := today.Date()
	cut := time.Date(y-years, m, d, 0, 0, 0, 0, time.UTC)
	if cut.Month() != m { // 29 Feb in a non-leap year: born on 1 Mar is not yet of age
		cut = cut.AddDate(0, 0, -1)
	}
	return DateValue(cut), nil
}
