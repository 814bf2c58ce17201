// Package convert turns Kafka Connect data (schema and value) into record
// bytes and back: StringConverter, ByteArrayConverter and JsonConverter,
// byte-compatible with Kafka Connect's.
package convert

import (
	"fmt"
	"strconv"
	"strings"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// Converter is one direction-agnostic converter instance (a key or a value
// converter), as Kafka Connect's Converter. Each task makes its own: a
// converter is used by one goroutine at a time, and may cache.
type Converter interface {
	// FromConnect serialises d, whose schema is s (nil: schemaless); a nil
	// result is a null record key or value.
	FromConnect(topic string, s *pb.Schema, d *pb.Data) ([]byte, error)
	// ToConnect deserialises b (nil is null) into d, which is zero on
	// entry (so callers may allocate many at once), and returns its schema
	// (nil: none). The schema may be shared with other results of this
	// converter: callers must not change it.
	ToConnect(topic string, b []byte, d *pb.Data) (*pb.Schema, error)
}

// valueOf returns d's value as a pb.Value, turning a raw one (see
// pb.Data.Raw) into a string or bytes value as its schema says.
func valueOf(s *pb.Schema, d *pb.Data) *pb.Value {
	switch {
	case d == nil:
		return nil
	case d.Raw == nil:
		return d.Value
	case s.GetType() == pb.SchemaType_SCHEMA_TYPE_STRING:
		return &pb.Value{Kind: &pb.Value_StringValue{StringValue: string(d.Raw)}}
	}
	return &pb.Value{Kind: &pb.Value_BytesValue{BytesValue: d.Raw}}
}

// isNull says whether d is null.
func isNull(d *pb.Data) bool { return d == nil || (d.Raw == nil && d.Value.GetKind() == nil) }

// Class names, with the aliases Kafka Connect accepts.
const (
	StringClass    = "org.apache.kafka.connect.storage.StringConverter"
	ByteArrayClass = "org.apache.kafka.connect.converters.ByteArrayConverter"
	JSONClass      = "org.apache.kafka.connect.json.JsonConverter"
)

// Classes lists the converter classes Ferry provides.
var Classes = []string{ByteArrayClass, JSONClass, StringClass}

// Canonical returns the full class name for a class name or alias
// (simple name, or simple name without the Converter suffix), or "".
func Canonical(name string) string {
	for _, c := range Classes {
		simple := c[strings.LastIndex(c, ".")+1:]
		if name == c || name == simple || name == strings.TrimSuffix(simple, "Converter") {
			return c
		}
	}
	return ""
}

// New makes a converter of class (or alias) with its settings, the keys
// given after `key.converter.` or `value.converter.`.
func New(class string, cfg map[string]string) (Converter, error) {
	switch Canonical(class) {
	case StringClass:
		if enc, ok := cfg["converter.encoding"]; ok && !strings.EqualFold(enc, "UTF-8") && !strings.EqualFold(enc, "UTF8") {
			return nil, fmt.Errorf("converter.encoding: only UTF-8 is supported, not %q", enc)
		}
		return stringConverter{}, nil
	case ByteArrayClass:
		return byteArrayConverter{}, nil
	case JSONClass:
		return newJSON(cfg)
	}
	return nil, fmt.Errorf("unknown converter class %q (known: %s)", class, strings.Join(Classes, ", "))
}

type stringConverter struct{}

var optionalString = &pb.Schema{Type: pb.SchemaType_SCHEMA_TYPE_STRING, Optional: true}

func (stringConverter) FromConnect(_ string, s *pb.Schema, d *pb.Data) ([]byte, error) {
	if isNull(d) {
		return nil, nil
	}
	if d.Raw != nil && s.GetType() == pb.SchemaType_SCHEMA_TYPE_STRING {
		return d.Raw, nil
	}
	v := valueOf(s, d)
	if sv, ok := v.Kind.(*pb.Value_StringValue); ok {
		return []byte(sv.StringValue), nil
	}
	return []byte(javaString(s, v)), nil
}

func (stringConverter) ToConnect(_ string, b []byte, d *pb.Data) (*pb.Schema, error) {
	d.Raw = b
	return optionalString, nil
}

// javaString renders a non-string value as Java's toString would for
// primitives; structured values fall back to their JSON.
func javaString(s *pb.Schema, v *pb.Value) string {
	switch k := v.Kind.(type) {
	case *pb.Value_BoolValue:
		return strconv.FormatBool(k.BoolValue)
	case *pb.Value_IntValue:
		return strconv.FormatInt(k.IntValue, 10)
	case *pb.Value_FloatValue:
		return javaFloat(k.FloatValue, s != nil && s.Type == pb.SchemaType_SCHEMA_TYPE_FLOAT32)
	}
	var buf []byte
	buf, _ = appendValue(buf, s, v, false)
	return string(buf)
}

type byteArrayConverter struct{}

var optionalBytes = &pb.Schema{Type: pb.SchemaType_SCHEMA_TYPE_BYTES, Optional: true}

func (byteArrayConverter) FromConnect(_ string, s *pb.Schema, d *pb.Data) ([]byte, error) {
	if d == nil {
		return nil, nil
	}
	if s != nil && s.Type != pb.SchemaType_SCHEMA_TYPE_BYTES {
		return nil, fmt.Errorf("invalid schema type for ByteArrayConverter: %s", typeName(s.Type))
	}
	if d.Raw != nil {
		return d.Raw, nil
	}
	switch k := d.Value.GetKind().(type) {
	case nil:
		return nil, nil
	case *pb.Value_BytesValue:
		return k.BytesValue, nil
	default:
		return nil, fmt.Errorf("ByteArrayConverter is not compatible with objects of type %s", kindName(d.Value))
	}
}

func (byteArrayConverter) ToConnect(_ string, b []byte, d *pb.Data) (*pb.Schema, error) {
	d.Raw = b
	return optionalBytes, nil
}

func typeName(t pb.SchemaType) string {
	return strings.TrimPrefix(t.String(), "SCHEMA_TYPE_")
}

func kindName(v *pb.Value) string {
	switch v.GetKind().(type) {
	case *pb.Value_BoolValue:
		return "boolean"
	case *pb.Value_IntValue:
		return "integer"
	case *pb.Value_FloatValue:
		return "float"
	case *pb.Value_StringValue:
		return "string"
	case *pb.Value_BytesValue:
		return "bytes"
	case *pb.Value_ArrayValue:
		return "array"
	case *pb.Value_MapValue:
		return "map"
	case *pb.Value_StructValue:
		return "struct"
	}
	return "null"
}
