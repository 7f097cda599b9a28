package services

import (
	"regexp"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// FuzzByteFormat: the one-pass byte format accepts exactly what
// kin-openapi's regular expression does.
func FuzzByteFormat(f *testing.F) {
	re := regexp.MustCompile(openapi3.FormatOfStringByte)
	for _, s := range []string{"", "=", "==", "QUJD", "QUI=", "QQ==", "a-b_c", "a=b", "a b", "é", "A+/=\n", "=A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := byteFormat(s) == nil, re.MatchString(s); got != want {
			t.Fatalf("%q: accepted %v, the regular expression %v", s, got, want)
		}
	})
}
