package sdk

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Offsets are the committed offsets a source task starts from, keyed by the
// JSON of their source partition.
type Offsets map[string]map[string]any

// Get returns the offset stored for partition, or nil if there is none.
func (o Offsets) Get(partition map[string]any) map[string]any {
	key, err := json.Marshal(partition)
	if err != nil {
		return nil
	}
	return o[string(key)]
}

// encodeJSONMap encodes a partition or offset map with sorted keys, so
// equal maps always give equal bytes: the host matches partitions by their
// bytes. Small flat maps of strings and numbers, which is what offsets
// usually are, take a fast path: this runs twice per record.
func encodeJSONMap(m map[string]any) ([]byte, error) {
	return appendJSONMap(nil, m)
}

// appendJSONMap appends encodeJSONMap's bytes to buf; a nil map appends
// nothing.
func appendJSONMap(buf []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return buf, nil
	}
	if b, ok := appendFlatJSON(buf, m); ok {
		return b, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %v: %w", m, err)
	}
	return append(buf, b...), nil
}

// appendFlatJSON writes m as encoding/json would, if m has at most four
// keys and only plain ASCII string keys with string, integer or bool values;
// ok is false otherwise.
func appendFlatJSON(b []byte, m map[string]any) ([]byte, bool) {
	if len(m) > 4 {
		return nil, false
	}
	type entry struct {
		key   string
		value any
	}
	var entries [4]entry
	n := 0
	for k, v := range m {
		if !plainASCII(k) {
			return nil, false
		}
		entries[n] = entry{k, v}
		n++
	}
	sorted := entries[:n]
	if n > 1 {
		slices.SortFunc(sorted, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	}
	b = append(b, '{')
	for i, e := range sorted {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, e.key...)
		b = append(b, '"', ':')
		switch v := e.value.(type) {
		case string:
			if !plainASCII(v) {
				return nil, false
			}
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int32:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		default:
			return nil, false
		}
	}
	return append(b, '}'), true
}

// plainASCII reports whether s needs no JSON escaping (encoding/json also
// escapes <, > and &).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func decodeJSONMap(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", b, err)
	}
	return m, nil
}
