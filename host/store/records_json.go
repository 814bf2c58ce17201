package store

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The records' JSON is read with this small parser rather than
// encoding/json because the codec needs what encoding/json does not keep:
// the order of an object's members (a config's properties come back in
// the order Kafka Connect wrote them, so they re-encode byte for byte) and
// the exact bytes of a value (an offset key's partition). It takes RFC 8259
// JSON only, and so rejects some input Jackson reads leniently (leading
// zeros, content after the value), none of which Kafka Connect writes.

// jsonKind is the type of a JSON value.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonObject
	jsonArray
)

func (k jsonKind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an object", "an array"}[k]
}

// jsonValue is a parsed JSON value.
type jsonValue struct {
	kind jsonKind
	b    bool
	// s is a string's text (unescaped) or a number's literal.
	s string
	// members are an object's members in document order; a repeated name
	// keeps its first place and takes its last value, as Jackson's
	// ObjectNode does.
	members []jsonMember
	elems   []jsonValue
	// raw is the value's bytes in the input.
	raw []byte
}

type jsonMember struct {
	name  string
	value jsonValue
}

// get returns the member called name of an object.
func (v *jsonValue) get(name string) (jsonValue, bool) {
	for _, m := range v.members {
		if m.name == name {
			return m.value, true
		}
	}
	return jsonValue{}, false
}

// maxJSONDepth is Jackson's default nesting limit
// (StreamReadConstraints.DEFAULT_MAX_DEPTH).
const maxJSONDepth = 1000

// parseRecordValue reads a record's value: nil, empty or JSON null is a
// tombstone (ok false); anything else must be a JSON object.
func parseRecordValue(value []byte) (v jsonValue, ok bool, err error) {
	if len(value) == 0 {
		return jsonValue{}, false, nil
	}
	if v, err = parseJSON(value); err != nil {
		return jsonValue{}, false, err
	}
	switch v.kind {
	case jsonNull:
		return jsonValue{}, false, nil
	case jsonObject:
		return v, true, nil
	}
	return jsonValue{}, false, fmt.Errorf("value is %s, not an object", v.kind)
}

// parseJSON parses data, which must hold exactly one JSON value (with
// optional whitespace around it).
func parseJSON(data []byte) (jsonValue, error) {
	p := jsonParser{data: data}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return jsonValue{}, err
	}
	p.space()
	if p.pos < len(p.data) {
		return jsonValue{}, p.errorf("content after the JSON value")
	}
	return v, nil
}

type jsonParser struct {
	data []byte
	pos  int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (jsonValue, error) {
	if p.pos >= len(p.data) {
		return jsonValue{}, p.errorf("unexpected end")
	}
	start := p.pos
	var v jsonValue
	var err error
	switch c := p.data[p.pos]; {
	case c == '{':
		if depth >= maxJSONDepth {
			return jsonValue{}, p.errorf("nested deeper than %d", maxJSONDepth)
		}
		v, err = p.object(depth + 1)
	case c == '[':
		if depth >= maxJSONDepth {
			return jsonValue{}, p.errorf("nested deeper than %d", maxJSONDepth)
		}
		v, err = p.array(depth + 1)
	case c == '"':
		var s string
		s, err = p.string()
		v = jsonValue{kind: jsonString, s: s}
	case c == '-' || c >= '0' && c <= '9':
		v, err = p.number()
	default:
		v, err = p.literal()
	}
	if err != nil {
		return jsonValue{}, err
	}
	v.raw = p.data[start:p.pos]
	return v, nil
}

func (p *jsonParser) literal() (jsonValue, error) {
	for _, l := range []struct {
		text string
		v    jsonValue
	}{{"null", jsonValue{kind: jsonNull}}, {"true", jsonValue{kind: jsonBool, b: true}}, {"false", jsonValue{kind: jsonBool}}} {
		if len(p.data)-p.pos >= len(l.text) && string(p.data[p.pos:p.pos+len(l.text)]) == l.text {
			p.pos += len(l.text)
			return l.v, nil
		}
	}
	return jsonValue{}, p.errorf("unexpected %q", p.data[p.pos])
}

func (p *jsonParser) object(depth int) (jsonValue, error) {
	v := jsonValue{kind: jsonObject}
	p.pos++ // {
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return jsonValue{}, p.errorf("expected a member name")
		}
		name, err := p.string()
		if err != nil {
			return jsonValue{}, err
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return jsonValue{}, p.errorf("expected ':'")
		}
		p.pos++
		p.space()
		mv, err := p.value(depth)
		if err != nil {
			return jsonValue{}, err
		}
		replaced := false
		for i := range v.members {
			if v.members[i].name == name {
				v.members[i].value = mv
				replaced = true
				break
			}
		}
		if !replaced {
			v.members = append(v.members, jsonMember{name: name, value: mv})
		}
		p.space()
		if p.pos >= len(p.data) {
			return jsonValue{}, p.errorf("unexpected end in an object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return v, nil
		default:
			return jsonValue{}, p.errorf("expected ',' or '}'")
		}
	}
}

func (p *jsonParser) array(depth int) (jsonValue, error) {
	v := jsonValue{kind: jsonArray}
	p.pos++ // [
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.space()
		e, err := p.value(depth)
		if err != nil {
			return jsonValue{}, err
		}
		v.elems = append(v.elems, e)
		p.space()
		if p.pos >= len(p.data) {
			return jsonValue{}, p.errorf("unexpected end in an array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, nil
		default:
			return jsonValue{}, p.errorf("expected ',' or ']'")
		}
	}
}

// number reads an RFC 8259 number and keeps its literal.
func (p *jsonParser) number() (jsonValue, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return jsonValue{}, p.errorf("malformed number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return jsonValue{}, p.errorf("malformed number")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return jsonValue{}, p.errorf("malformed number")
		}
	}
	return jsonValue{kind: jsonNumber, s: string(p.data[start:p.pos])}, nil
}

// string reads a string. Its bytes must be UTF-8 (Jackson rejects others);
// an escaped surrogate that is not half of a pair becomes U+FFFD, as a Go
// string cannot hold it.
func (p *jsonParser) string() (string, error) {
	p.pos++ // "
	var b []byte
	start := p.pos
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := string(append(b, p.data[start:p.pos]...))
			p.pos++
			return s, nil
		case c < 0x20:
			return "", p.errorf("control character %#x in a string", c)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errorf("invalid UTF-8 in a string")
			}
			p.pos += size
		case c == '\\':
			b = append(b, p.data[start:p.pos]...)
			p.pos++
			if p.pos >= len(p.data) {
				return "", p.errorf("unterminated string")
			}
			e := p.data[p.pos]
			p.pos++
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
						save := p.pos
						p.pos += 2
						if r2, err = p.hex4(); err != nil {
							return "", err
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							// Not a pair: the second escape is read on
							// its own.
							p.pos = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", p.errorf("invalid escape \\%c", e)
			}
			start = p.pos
		default:
			p.pos++
		}
	}
}

func (p *jsonParser) hex4() (rune, error) {
	if len(p.data)-p.pos < 4 {
		return 0, p.errorf("malformed \\u escape")
	}
	n, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 16)
	if err != nil {
		return 0, p.errorf("malformed \\u escape")
	}
	p.pos += 4
	return rune(n), nil
}

// errMissing and the helpers below read a record's fields; their errors
// name the field, and the record's decoder adds the key.
var errMissing = errors.New("missing")

// field returns member name of object v, or an error if it is missing.
func field(v *jsonValue, name string) (jsonValue, error) {
	f, ok := v.get(name)
	if !ok {
		return jsonValue{}, fmt.Errorf("%q is %w", name, errMissing)
	}
	return f, nil
}

// stringField returns string member name; null is an error.
func stringField(v *jsonValue, name string) (string, error) {
	f, err := field(v, name)
	if err != nil {
		return "", err
	}
	if f.kind != jsonString {
		return "", fmt.Errorf("%q is %s, not a string", name, f.kind)
	}
	return f.s, nil
}

// optionalString returns string member name; missing or null is "".
func optionalString(v *jsonValue, name string) (string, error) {
	f, ok := v.get(name)
	if !ok || f.kind == jsonNull {
		return "", nil
	}
	if f.kind != jsonString {
		return "", fmt.Errorf("%q is %s, not a string or null", name, f.kind)
	}
	return f.s, nil
}

// intField returns integer member name, which must fit bits bits. Kafka
// Connect reads these as Long (or Integer), so 1.0 and 1e3, which Jackson
// reads as Double, are not integers.
func intField(v *jsonValue, name string, bits int) (int64, error) {
	f, err := field(v, name)
	if err != nil {
		return 0, err
	}
	if f.kind != jsonNumber {
		return 0, fmt.Errorf("%q is %s, not an integer", name, f.kind)
	}
	n, err := strconv.ParseInt(f.s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is %s, not a %d-bit integer", name, f.s, bits)
	}
	return n, nil
}

func boolField(v *jsonValue, name string) (bool, error) {
	f, err := field(v, name)
	if err != nil {
		return false, err
	}
	if f.kind != jsonBool {
		return false, fmt.Errorf("%q is %s, not a boolean", name, f.kind)
	}
	return f.b, nil
}
