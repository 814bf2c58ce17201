// Package config reads worker and connector configuration the way Kafka
// Connect does: Java .properties files or JSON, with Kafka Connect's keys
// and defaults, and reports every problem with the key it concerns.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseProperties parses Java .properties text: `key=value`, `key: value`
// or `key value`, `#` and `!` comments, backslash line continuations and
// escapes (\t \n \r \f \uXXXX, with UTF-16 surrogate pairs joined). As in
// java.util.Properties, a line ends at "\n", "\r\n" or a lone "\r", and a
// continuation line is never a comment. An error names the line on which
// the bad property starts.
func ParseProperties(data []byte) (map[string]string, error) {
	out := map[string]string{}
	var logical strings.Builder
	// inLogical is set while a logical line continues onto the next
	// physical one; logical alone cannot tell, as a line holding just
	// "\" continues without adding anything.
	inLogical := false
	lineNo, start := 0, 0
	emit := func() error {
		inLogical = false
		if logical.Len() == 0 {
			// Only continuations and blanks: java.util.Properties
			// skips such a line rather than defining an empty key.
			return nil
		}
		k, v, err := splitProperty(logical.String())
		logical.Reset()
		if err != nil {
			return fmt.Errorf("line %d: %w", start, err)
		}
		out[k] = v
		return nil
	}
	for len(data) > 0 {
		var line string
		if i := bytes.IndexAny(data, "\r\n"); i < 0 {
			line, data = string(data), nil
		} else {
			line = string(data[:i])
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			data = data[i+1:]
		}
		lineNo++
		line = strings.TrimLeft(line, " \t\f")
		if !inLogical {
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			start, inLogical = lineNo, true
		}
		if continues(line) {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		if err := emit(); err != nil {
			return nil, err
		}
	}
	if inLogical {
		if err := emit(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// continues reports whether line ends in an odd number of backslashes.
func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func splitProperty(s string) (string, string, error) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i > len(s) {
		i = len(s)
	}
	key := s[:i]
	// The separator is whitespace, '=' or ':', or whitespace around one
	// '=' or ':'; anything after that belongs to the value.
	rest := strings.TrimLeft(s[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	k, err := unescape(key)
	if err != nil {
		return "", "", err
	}
	v, err := unescape(rest)
	if err != nil {
		return "", "", fmt.Errorf("key %s: %w", k, err)
	}
	return k, v, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i == len(s)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", fmt.Errorf("malformed \\u escape %q: want four hex digits", s[i-1:min(i+5, len(s))])
			}
			i += 4
			// Java writes a character beyond the BMP as two \u escapes
			// (a UTF-16 surrogate pair); join them into one rune. A lone
			// surrogate has no UTF-8 form and becomes U+FFFD.
			if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo, ok := hex4(s, i+3); ok {
					if joined := utf16.DecodeRune(r, lo); joined != utf8.RuneError {
						r = joined
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// hex4 decodes the four hex digits at s[i:i+4].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// LoadConnector reads a connector definition from a .properties file, or a
// .json file holding either {"name":...,"config":{...}} or a flat map, as
// connect-standalone accepts. Every error names path, and the line for a
// syntax error.
func LoadConnector(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read connector config: %w", err)
	}
	var cfg map[string]string
	if strings.HasSuffix(path, ".json") {
		cfg, err = parseConnectorJSON(data)
	} else {
		cfg, err = ParseProperties(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// LoadConnectors reads the connector files given to `ferry standalone`, in
// order, with LoadConnector, and checks that each defines a valid name
// (see ParseConnector) that no other file defines: Kafka Connect refuses
// to start when two files define one connector, rather than letting the
// later one win. The other keys are left to ParseConnector and the plugin.
// The error joins every problem in every file, each naming its file; on
// error the configs are nil.
func LoadConnectors(paths []string) ([]map[string]string, error) {
	var (
		cfgs  []map[string]string
		errs  []error
		owner = map[string]string{} // connector name -> the file defining it
	)
	for _, path := range paths {
		cfg, err := LoadConnector(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfgs = append(cfgs, cfg)
		name, present := connectorName(cfg)
		if kerr := checkName(name, present); kerr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, kerr))
			continue
		}
		if first, ok := owner[name]; ok {
			errs = append(errs, fmt.Errorf("%s: connector %q is already defined in %s", path, name, first))
			continue
		}
		owner[name] = path
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfgs, nil
}

// parseConnectorJSON decodes a JSON connector file. Numbers keep the text
// they are written with (1000000 stays 1000000, not 1e+06, and an int64
// keeps every digit), as Kafka Connect reads them as strings.
func parseConnectorJSON(data []byte) (map[string]string, error) {
	// Jackson, which Kafka Connect reads the file with, skips a UTF-8
	// byte order mark (some Windows editors write one); encoding/json
	// does not.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, jsonError(data, err)
	}
	// Decode stops after the first document; anything but white space
	// after it is a mistake (two documents, a stray brace), not something
	// to drop silently.
	off := int(dec.InputOffset())
	if rest := bytes.TrimLeft(data[off:], " \t\r\n"); len(rest) > 0 {
		line, col := position(data, len(data)-len(rest))
		return nil, fmt.Errorf("line %d, column %d: unexpected data after the JSON object", line, col)
	}
	if doc == nil {
		return nil, errors.New("expected a JSON object, got null")
	}
	inner, wrapped := doc["config"].(map[string]any)
	if !wrapped {
		return flatStrings(doc)
	}
	cfg, err := flatStrings(inner)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if v, ok := doc["name"]; ok && v != nil {
		name, ok := scalarString(v)
		if !ok {
			return nil, errors.New("name: value must be a string")
		}
		if cfg["name"] != "" && cfg["name"] != name {
			return nil, fmt.Errorf("name %q does not match config.name %q", name, cfg["name"])
		}
		cfg["name"] = name
	}
	return cfg, nil
}

// jsonError adds the line and column to a decoding error that knows its
// offset.
func jsonError(data []byte, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("empty file: expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected end of file: the JSON object is not closed")
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		line, col := position(data, int(syn.Offset)-1)
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	case errors.As(err, &typ):
		// The document decodes into map[string]any: only a top level
		// that is not an object can mismatch.
		line, col := position(data, int(typ.Offset)-1)
		return fmt.Errorf("line %d, column %d: expected a JSON object, got %s", line, col, typ.Value)
	}
	return err
}

// position turns a byte offset into data into a 1-based line and column
// (in bytes).
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	nl := bytes.LastIndexByte(before, '\n')
	return bytes.Count(before, []byte{'\n'}) + 1, off - nl
}

// flatStrings turns JSON config values into strings, as Kafka Connect
// accepts numbers and booleans for string-typed keys; null drops the key.
// Problems are reported in key order, so the error is the same on every
// run.
func flatStrings(m map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(m))
	var bad []string
	for k, v := range m {
		if v == nil {
			continue
		}
		s, ok := scalarString(v)
		if !ok {
			bad = append(bad, k)
			continue
		}
		out[k] = s
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("key %s: value must be a string, number or boolean", strings.Join(bad, ", "))
	}
	return out, nil
}

// scalarString renders a JSON string, number (as written) or boolean.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
