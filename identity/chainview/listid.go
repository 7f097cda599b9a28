package chainview

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
)

// statusPath separates the issuer DID from the list id in a list URL.
const statusPath = "/status/"

var listIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ListURL names issuer's status list id in a credential's
// statusListCredential: "<issuer DID>/status/<id>".
func ListURL(issuer, id string) string { return issuer + statusPath + id }

// ParseListURL splits a list URL into its issuer DID and list id, checking
// both (the id as the status module accepts it).
func ParseListURL(u string) (issuer, id string, err error) {
	issuer, id, ok := strings.Cut(u, statusPath)
	if !ok {
		return "", "", fmt.Errorf("%w: status list %q is not <issuer DID>%s<id>", registry.ErrBadArgs, u, statusPath)
	}
	if _, err := did.Parse(issuer); err != nil {
		return "", "", fmt.Errorf("%w: status list issuer: %w", registry.ErrBadArgs, err)
	}
	if !listIDPattern.MatchString(id) {
		return "", "", fmt.Errorf("%w: status list id %q", registry.ErrBadArgs, id)
	}
	return issuer, id, nil
}
