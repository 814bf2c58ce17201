package store

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-connect/ferry/host/offsets"
	"github.com/ferry-connect/ferry/internal/jackson"
)

// OffsetRecord is one record of the offsets topic (kafka-connect.md §4.2):
// key ["<connector>",<partition>], value the offset.
type OffsetRecord struct {
	Connector string
	// Partition is the source partition's JSON as the key holds it: an
	// object, or null (which Kafka Connect skips when it lists a
	// connector's partitions).
	Partition []byte
	// Offset is the offset's JSON, an object; nil for a tombstone, which
	// resets the partition's offset.
	Offset []byte
}

// DecodeOffsetRecord decodes an offsets topic record; value nil (or empty,
// or JSON null) is a tombstone. Partition and Offset keep the record's
// bytes. A key that is not ["<connector>",{...}|null] or a value that is
// not an object is an error that names the key.
func DecodeOffsetRecord(key, value []byte) (OffsetRecord, error) {
	name, part, err := parseOffsetKey(key)
	if err != nil {
		return OffsetRecord{}, err
	}
	r := OffsetRecord{Connector: name, Partition: bytes.Clone(part.raw)}
	_, ok, err := parseRecordValue(value)
	if err != nil {
		return OffsetRecord{}, fmt.Errorf("offset record %q: %w", key, err)
	}
	if ok {
		r.Offset = bytes.Clone(value)
	}
	return r, nil
}

// parseOffsetKey reads ["<connector>",<partition>], as
// OffsetUtils.processPartitionKey does.
func parseOffsetKey(key []byte) (string, jsonValue, error) {
	k, err := parseJSON(key)
	if err != nil {
		return "", jsonValue{}, fmt.Errorf("offset record key %q: %w", key, err)
	}
	if k.kind != jsonArray || len(k.elems) != 2 {
		return "", jsonValue{}, fmt.Errorf("offset record key %q: not a [connector, partition] array", key)
	}
	if k.elems[0].kind != jsonString {
		return "", jsonValue{}, fmt.Errorf("offset record key %q: connector is %s, not a string", key, k.elems[0].kind)
	}
	if p := k.elems[1].kind; p != jsonObject && p != jsonNull {
		return "", jsonValue{}, fmt.Errorf("offset record key %q: partition is %s, not an object", key, p)
	}
	return k.elems[0].s, k.elems[1], nil
}

// EncodeOffsetRecord returns r's key (host/offsets.Key: the name quoted as
// Jackson quotes it, the partition's bytes as they are) and value (the
// offset's bytes, nil for a tombstone). Partition must be a JSON object or
// null and Offset an object or nil.
func EncodeOffsetRecord(r OffsetRecord) (key, value []byte, err error) {
	if p, err := parseJSON(r.Partition); err != nil || p.kind != jsonObject && p.kind != jsonNull {
		return nil, nil, fmt.Errorf("offset record for connector %q: partition %q is not a JSON object", r.Connector, r.Partition)
	}
	if r.Offset != nil {
		if o, err := parseJSON(r.Offset); err != nil || o.kind != jsonObject {
			return nil, nil, fmt.Errorf("offset record for connector %q: offset %q is not a JSON object", r.Connector, r.Offset)
		}
	}
	return offsets.Key(r.Connector, r.Partition), r.Offset, nil
}

// NormalizeOffsetKey returns the form of an offsets topic key under which
// Ferry looks offsets up; two keys that name the same source partition
// normalise to the same bytes.
//
// Kafka Connect looks offsets up byte for byte: it serialises the
// partition a task asks for and matches the bytes (and the topic
// partition is the murmur2 hash of them). Those bytes are Jackson's
// compact JSON of the task's Map, members in that map's iteration order,
// Long as 42, Double as 1.5 or 1.0E21. Ferry's partitions are the JSON a
// plugin sent, members in the plugin's order, floats as Go prints them.
// So the normal form is the key rebuilt with host/offsets.Key from:
//
//   - the connector's name, quoted as Jackson quotes strings;
//   - the partition with its object members sorted by name (bytewise; a
//     repeated name keeps its last value), arrays in order;
//   - strings quoted as Jackson quotes them;
//   - numbers by value: an integral value as an integer (42, 42.0 and
//     4.2e1 are all 42, as a Long and a Double of the same value are in
//     Java's eyes the same partition to a user), any other as Go's
//     shortest 'g' form of the float64 (1e999 beyond its range);
//   - no whitespace.
//
// The normal form is for lookups only: records are written with the bytes
// a partition was read with (or, for a new partition, the plugin's), so
// that a partition keeps one key in the compacted topic.
func NormalizeOffsetKey(key []byte) ([]byte, error) {
	name, part, err := parseOffsetKey(key)
	if err != nil {
		return nil, err
	}
	return offsets.Key(name, appendCanonicalJSON(nil, &part)), nil
}

func appendCanonicalJSON(b []byte, v *jsonValue) []byte {
	switch v.kind {
	case jsonNull:
		return append(b, "null"...)
	case jsonBool:
		return strconv.AppendBool(b, v.b)
	case jsonString:
		return jackson.AppendString(b, v.s)
	case jsonNumber:
		return appendCanonicalNumber(b, v.s)
	case jsonArray:
		b = append(b, '[')
		for i := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonicalJSON(b, &v.elems[i])
		}
		return append(b, ']')
	}
	members := slices.Clone(v.members)
	slices.SortFunc(members, func(x, y jsonMember) int { return strings.Compare(x.name, y.name) })
	b = append(b, '{')
	for i := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = jackson.AppendString(b, members[i].name)
		b = append(b, ':')
		b = appendCanonicalJSON(b, &members[i].value)
	}
	return append(b, '}')
}

// appendCanonicalNumber appends the JSON number literal s by value.
func appendCanonicalNumber(b []byte, s string) []byte {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.AppendInt(b, n, 10)
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case math.IsInf(f, 1):
		return append(b, "1e999"...) // beyond float64, as Java's Double reads it
	case math.IsInf(f, -1):
		return append(b, "-1e999"...)
	case err != nil:
		return append(b, s...) // not reached: s is a valid literal
	}
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
