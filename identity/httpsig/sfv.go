package httpsig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The subset of Structured Field Values (RFC 8941) that signatures need:
// dictionaries whose members are inner lists or items, and bare items that
// are integers, strings, tokens, byte sequences or booleans. Decimals are
// refused. Parsing is strict: a duplicate dictionary or parameter key, which
// RFC 8941 would resolve by keeping the last, is an error here, so two
// readers can never disagree about a signature's parameters.

const (
	maxKeyLen    = 64
	maxInnerList = 32
	maxParams    = 16
	maxMembers   = 16
)

// Bare item kinds.
const (
	kInt = iota + 1
	kString
	kToken
	kBytes
	kBool
)

type bareItem struct {
	kind int
	i    int64
	s    string // string or token
	b    []byte
	bo   bool
}

type param struct {
	key string
	val bareItem
}

type item struct {
	val    bareItem
	params []param
}

// member is a dictionary member: an inner list (list != nil) or an item.
type member struct {
	key    string
	isList bool
	list   []item
	item   item
	params []param // the inner list's parameters
}

type sfParser struct {
	s string
	i int
}

var errSF = errors.New("structured field")

func (p *sfParser) fail(msg string) error {
	return fmt.Errorf("%w: %s at offset %d", errSF, msg, p.i)
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) skipSP() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// parseDictionary implements RFC 8941 section 4.2.2 for our subset.
func parseDictionary(s string) ([]member, error) {
	p := &sfParser{s: s}
	p.skipSP()
	var out []member
	seen := map[string]bool{}
	for p.i < len(p.s) {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, p.fail("duplicate key " + key)
		}
		seen[key] = true
		m := member{key: key}
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				m.isList = true
				if m.list, m.params, err = p.innerList(); err != nil {
					return nil, err
				}
			} else if m.item, err = p.item(); err != nil {
				return nil, err
			}
		} else {
			m.item.val = bareItem{kind: kBool, bo: true}
			if m.item.params, err = p.parameters(); err != nil {
				return nil, err
			}
		}
		out = append(out, m)
		if len(out) > maxMembers {
			return nil, p.fail("too many members")
		}
		p.skipOWS()
		if p.i == len(p.s) {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.fail("expected ','")
		}
		p.i++
		p.skipOWS()
		if p.i == len(p.s) {
			return nil, p.fail("trailing ','")
		}
	}
	return nil, p.fail("empty dictionary")
}

func (p *sfParser) key() (string, error) {
	start := p.i
	c := p.peek()
	if !(c >= 'a' && c <= 'z' || c == '*') {
		return "", p.fail("key must start with a lowercase letter or '*'")
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	if p.i-start > maxKeyLen {
		return "", p.fail("key too long")
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) innerList() ([]item, []param, error) {
	p.i++ // '('
	var items []item
	for p.i < len(p.s) {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			params, err := p.parameters()
			return items, params, err
		}
		it, err := p.item()
		if err != nil {
			return nil, nil, err
		}
		items = append(items, it)
		if len(items) > maxInnerList {
			return nil, nil, p.fail("inner list too long")
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, nil, p.fail("expected ' ' or ')' in inner list")
		}
	}
	return nil, nil, p.fail("unterminated inner list")
}

func (p *sfParser) item() (item, error) {
	v, err := p.bareItem()
	if err != nil {
		return item{}, err
	}
	params, err := p.parameters()
	return item{val: v, params: params}, err
}

func (p *sfParser) parameters() ([]param, error) {
	var out []param
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		for _, q := range out {
			if q.key == k {
				return nil, p.fail("duplicate parameter " + k)
			}
		}
		v := bareItem{kind: kBool, bo: true}
		if p.peek() == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		out = append(out, param{key: k, val: v})
		if len(out) > maxParams {
			return nil, p.fail("too many parameters")
		}
	}
	return out, nil
}

func (p *sfParser) bareItem() (bareItem, error) {
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		return p.integer()
	case c == '"':
		return p.str()
	case c == ':':
		return p.bytes()
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return bareItem{kind: kBool, bo: p.s[p.i-1] == '1'}, nil
		}
		return bareItem{}, p.fail("bad boolean")
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		return p.token()
	}
	return bareItem{}, p.fail("unexpected character")
}

func (p *sfParser) integer() (bareItem, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || p.i-digits > 15 {
		return bareItem{}, p.fail("integer needs 1 to 15 digits")
	}
	if p.peek() == '.' {
		return bareItem{}, p.fail("decimals are not supported")
	}
	n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
	if err != nil {
		return bareItem{}, p.fail("bad integer")
	}
	return bareItem{kind: kInt, i: n}, nil
}

func (p *sfParser) str() (bareItem, error) {
	p.i++ // '"'
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i == len(p.s) || p.s[p.i] != '"' && p.s[p.i] != '\\' {
				return bareItem{}, p.fail("bad escape")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return bareItem{kind: kString, s: b.String()}, nil
		case c < 0x20 || c > 0x7e:
			return bareItem{}, p.fail("non-printable character in string")
		default:
			b.WriteByte(c)
		}
	}
	return bareItem{}, p.fail("unterminated string")
}

func (p *sfParser) token() (bareItem, error) {
	start := p.i
	p.i++
	for p.i < len(p.s) && isTChar(p.s[p.i]) {
		p.i++
	}
	return bareItem{kind: kToken, s: p.s[start:p.i]}, nil
}

func isTChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}

func (p *sfParser) bytes() (bareItem, error) {
	p.i++ // ':'
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return bareItem{}, p.fail("unterminated byte sequence")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(p.s[p.i : p.i+end])
	if err != nil {
		return bareItem{}, p.fail("bad base64 in byte sequence")
	}
	p.i += end + 1
	return bareItem{kind: kBytes, b: b}, nil
}

// Serialisation (RFC 8941 section 4.1) of what we write.

func serializeString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func serializeBare(v bareItem) string {
	switch v.kind {
	case kInt:
		return strconv.FormatInt(v.i, 10)
	case kString:
		return serializeString(v.s)
	case kToken:
		return v.s
	case kBytes:
		return ":" + base64.StdEncoding.EncodeToString(v.b) + ":"
	default:
		if v.bo {
			return "?1"
		}
		return "?0"
	}
}

func serializeParams(ps []param) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteByte(';')
		b.WriteString(p.key)
		if p.val.kind != kBool || !p.val.bo {
			b.WriteByte('=')
			b.WriteString(serializeBare(p.val))
		}
	}
	return b.String()
}

func serializeInnerList(items []item, ps []param) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(serializeBare(it.val))
		b.WriteString(serializeParams(it.params))
	}
	b.WriteByte(')')
	b.WriteString(serializeParams(ps))
	return b.String()
}

// validString reports whether s can be an sf-string.
func validString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
