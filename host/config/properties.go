// Package config reads worker and connector configuration the way Kafka
// Connect does: Java .properties files or JSON, with Kafka Connect's keys
// and defaults, and reports every problem with the key it concerns.
package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseProperties parses Java .properties text: `key=value`, `key: value`
// or `key value`, `#` and `!` comments, backslash line continuations and
// escapes (\t \n \r \f \uXXXX).
func ParseProperties(data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	lineNo := 0
	var logical strings.Builder
	start := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if logical.Len() == 0 {
			line = strings.TrimLeft(line, " \t\f")
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			start = lineNo
		} else {
			line = strings.TrimLeft(line, " \t\f")
		}
		if continues(line) {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		k, v, err := splitProperty(logical.String())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		out[k] = v
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if logical.Len() > 0 {
		k, v, err := splitProperty(logical.String())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		out[k] = v
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
			if i+4 >= len(s) {
				return "", fmt.Errorf("malformed \\u escape in %q", s)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("malformed \\u escape in %q", s)
			}
			var buf [4]byte
			b.Write(buf[:utf8.EncodeRune(buf[:], rune(r))])
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// LoadConnector reads a connector definition from a .properties file, or a
// .json file holding either {"name":…,"config":{…}} or a flat map, as
// connect-standalone accepts.
func LoadConnector(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read connector config: %w", err)
	}
	if !strings.HasSuffix(path, ".json") {
		props, err := ParseProperties(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return props, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if inner, ok := doc["config"].(map[string]any); ok {
		cfg, err := flatStrings(inner)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if name, ok := doc["name"].(string); ok {
			if cfg["name"] != "" && cfg["name"] != name {
				return nil, fmt.Errorf("%s: name %q does not match config.name %q", path, name, cfg["name"])
			}
			cfg["name"] = name
		}
		return cfg, nil
	}
	cfg, err := flatStrings(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// flatStrings turns JSON config values into strings, as Kafka Connect
// accepts numbers and booleans for string-typed keys.
func flatStrings(m map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64, bool:
			out[k] = fmt.Sprint(x)
		case nil:
		default:
			return nil, fmt.Errorf("key %s: value must be a string, number or boolean", k)
		}
	}
	return out, nil
}
