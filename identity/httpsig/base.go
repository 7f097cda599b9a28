package httpsig

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Derived components supported (RFC 9421 section 2.2).
const (
	CompMethod    = "@method"
	CompTargetURI = "@target-uri"
	CompAuthority = "@authority"
	CompPath      = "@path"
	CompQuery     = "@query"
)

// message is what a signature covers: the request's target and fields.
type message struct {
	method string
	scheme string // "http" or "https"
	host   string // authority as sent
	path   string // escaped path
	query  string // raw query, without '?'
	header http.Header
}

// clientMessage describes an outgoing request.
func clientMessage(r *http.Request) message {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	return message{method: r.Method, scheme: r.URL.Scheme, host: host, path: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header}
}

// serverMessage describes an incoming request; scheme is what the server
// was reached by (behind a TLS-terminating proxy, configure it).
func serverMessage(r *http.Request, scheme string) message {
	return message{method: r.Method, scheme: scheme, host: r.Host, path: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header}
}

// authority normalises host[:port] as RFC 9421 section 2.2.3 asks: lower
// case, the scheme's default port dropped.
func (m *message) authority() string {
	h := strings.ToLower(m.host)
	if host, port, err := net.SplitHostPort(h); err == nil {
		if m.scheme == "https" && port == "443" || m.scheme == "http" && port == "80" {
			if strings.Contains(host, ":") {
				return "[" + host + "]"
			}
			return host
		}
	}
	return h
}

// value returns the canonical value of a component (section 2.1 for fields,
// 2.2 for derived components).
func (m *message) value(name string) (string, error) {
	switch name {
	case CompMethod:
		return m.method, nil
	case CompAuthority:
		return m.authority(), nil
	case CompPath:
		if m.path == "" {
			return "/", nil
		}
		return m.path, nil
	case CompQuery:
		return "?" + m.query, nil
	case CompTargetURI:
		if m.scheme == "" {
			return "", fmt.Errorf("%w: @target-uri without a scheme", ErrUnsupported)
		}
		p, _ := m.value(CompPath)
		u := m.scheme + "://" + m.authority() + p
		if m.query != "" {
			u += "?" + m.query
		}
		return u, nil
	}
	if strings.HasPrefix(name, "@") {
		return "", fmt.Errorf("%w: component %s", ErrUnsupported, name)
	}
	if name != strings.ToLower(name) || name == "" {
		return "", fmt.Errorf("%w: field name %q must be lower case", ErrMalformed, name)
	}
	vs, ok := m.header[http.CanonicalHeaderKey(name)]
	if !ok {
		return "", fmt.Errorf("%w: field %s absent", ErrMissingComponent, name)
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strings.Trim(v, " \t")
	}
	v := strings.Join(parts, ", ")
	if strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("%w: field %s has a line break", ErrMalformed, name)
	}
	return v, nil
}

// signatureBase builds the signature base of RFC 9421 section 2.5 for the
// covered components (sf-strings without parameters) and the signature
// parameters, which are serialised as received.
func signatureBase(m *message, covered []item, params []param) (string, error) {
	var b strings.Builder
	seen := map[string]bool{}
	for _, c := range covered {
		if c.val.kind != kString || len(c.params) != 0 {
			return "", fmt.Errorf("%w: component identifiers must be plain strings", ErrUnsupported)
		}
		name := c.val.s
		if seen[name] {
			return "", fmt.Errorf("%w: component %s covered twice", ErrMalformed, name)
		}
		seen[name] = true
		v, err := m.value(name)
		if err != nil {
			return "", err
		}
		b.WriteString(serializeString(name))
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(serializeInnerList(covered, params))
	return b.String(), nil
}
