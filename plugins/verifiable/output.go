package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

// output is the file a task appends its JSON lines to: what Kafka's
// Verifiable tasks print to stdout. Several tasks, of one plugin process or
// of several (workers sharing a directory), may append to one file: it is
// opened with O_APPEND and each line goes out in one write, so on a local
// file system lines never interleave or overwrite each other. A nil
// *output writes nothing.
type output struct {
	name string // as configured, for errors
	f    *os.File
}

// openOutput opens the file cfg names, or returns nil when it names none.
func openOutput(cfg sdk.Config) (*output, error) {
	name := cfg.String(outputKey)
	if name == "" {
		return nil, nil
	}
	// Checked again: a link may have changed since the config was.
	path, err := sdk.AllowedPath(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", outputKey, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", outputKey, name, err)
	}
	return &output{name: name, f: f}, nil
}

// write appends line, which ends in a newline, in one write. It is safe
// for concurrent use.
func (o *output) write(line []byte) error {
	if o == nil {
		return nil
	}
	if _, err := o.f.Write(line); err != nil {
		return fmt.Errorf("write %s: %w", o.name, err)
	}
	return nil
}

func (o *output) Close() error {
	if o == nil {
		return nil
	}
	return o.f.Close()
}

// The lines are JSON objects whose keys come in the order Kafka's lines
// have them: its tasks print a java.util.HashMap with Jackson, so keys
// come in HashMap order (by bucket of the key's hash), which for these
// keys is the order below. Lines are built by hand: a line per record,
// and the fixed parts are encoded once per task.

// appendString appends s as a JSON string, escaped as Jackson escapes:
// quote, backslash and control characters only. Invalid UTF-8, which a
// Java string cannot hold, becomes U+FFFD so the line stays valid JSON.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\uFFFD`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

// appendValue appends a record's key or value as JSON, as the sink's
// lines carry them. A Verifiable source's are integers; anything else a
// topic may hold is rendered as faithfully as JSON allows: bytes in
// base64 and timestamps in epoch milliseconds (both as Jackson writes
// them), structs as objects in field order, maps with non-string keys as
// objects keyed by the keys' text.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case int8:
		return strconv.AppendInt(b, int64(v), 10)
	case int16:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case float32:
		return appendFloat(b, float64(v), 32)
	case float64:
		return appendFloat(b, v, 64)
	case string:
		return appendString(b, v)
	case []byte:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v)
		return append(b, '"')
	case time.Time:
		return strconv.AppendInt(b, v.UnixMilli(), 10)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), ':')
			b = appendValue(b, v[k])
		}
		return append(b, '}')
	case []sdk.MapEntry:
		b = append(b, '{')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, fmt.Sprint(e.Key)), ':')
			b = appendValue(b, e.Value)
		}
		return append(b, '}')
	case *sdk.StructValue:
		if v == nil {
			return append(b, "null"...)
		}
		b = append(b, '{')
		for i, f := range v.Schema.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, f.Name), ':')
			if i < len(v.Values) {
				b = appendValue(b, v.Values[i])
			} else {
				b = append(b, "null"...)
			}
		}
		return append(b, '}')
	}
	return appendString(b, fmt.Sprint(v))
}

// appendFloat writes NaN and the infinities as the strings Jackson writes
// by default: JSON has no numbers for them.
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}
