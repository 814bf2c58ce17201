package sdk

import (
	"fmt"
	"time"
)

// Type is a Kafka Connect schema type.
type Type int

// Schema types, as Kafka Connect's Schema.Type.
const (
	Int8 Type = iota + 1
	Int16
	Int32
	Int64
	Float32
	Float64
	Boolean
	String
	Bytes
	Array
	Map
	Struct
)

var typeNames = [...]string{"", "INT8", "INT16", "INT32", "INT64", "FLOAT32", "FLOAT64", "BOOLEAN", "STRING", "BYTES", "ARRAY", "MAP", "STRUCT"}

func (t Type) String() string {
	if t > 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Schema describes a value, as Kafka Connect's Schema. A nil *Schema means
// "no schema" (schemaless data).
type Schema struct {
	Type       Type
	Optional   bool
	Name       string
	Version    int32
	Doc        string
	Parameters map[string]string
	// Default is the default value; nil means none.
	Default any
	// Key is the key schema of a Map.
	Key *Schema
	// Value is the element schema of an Array or the value schema of a Map.
	Value *Schema
	// Fields are a Struct's fields, in order.
	Fields []Field
}

// Field is one field of a Struct schema.
type Field struct {
	Name   string
	Schema *Schema
}

// Field returns the index of the field called name, or -1.
func (s *Schema) Field(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Common schemas, as Kafka Connect's Schema.*_SCHEMA constants.
var (
	StringSchema          = &Schema{Type: String}
	OptionalStringSchema  = &Schema{Type: String, Optional: true}
	BytesSchema           = &Schema{Type: Bytes}
	OptionalBytesSchema   = &Schema{Type: Bytes, Optional: true}
	Int32Schema           = &Schema{Type: Int32}
	Int64Schema           = &Schema{Type: Int64}
	Float64Schema         = &Schema{Type: Float64}
	BooleanSchema         = &Schema{Type: Boolean}
	OptionalInt64Schema   = &Schema{Type: Int64, Optional: true}
	OptionalFloat64Schema = &Schema{Type: Float64, Optional: true}
)

// Logical type names, as Kafka Connect's.
const (
	TimestampName = "org.apache.kafka.connect.data.Timestamp"
	DateName      = "org.apache.kafka.connect.data.Date"
	TimeName      = "org.apache.kafka.connect.data.Time"
	DecimalName   = "org.apache.kafka.connect.data.Decimal"
)

// Logical type schemas. Values of these schemas are time.Time in Go.
var (
	TimestampSchema = &Schema{Type: Int64, Name: TimestampName, Version: 1}
	DateSchema      = &Schema{Type: Int32, Name: DateName, Version: 1}
	TimeSchema      = &Schema{Type: Int32, Name: TimeName, Version: 1}
)

// StructValue is a value of a Struct schema: one value per field, in order.
type StructValue struct {
	Schema *Schema
	Values []any
}

// NewStruct returns an empty struct of schema s.
func NewStruct(s *Schema) *StructValue {
	return &StructValue{Schema: s, Values: make([]any, len(s.Fields))}
}

// Set sets field name to v; it panics if the schema has no such field, as a
// programming error.
func (s *StructValue) Set(name string, v any) *StructValue {
	i := s.Schema.Field(name)
	if i < 0 {
		panic(fmt.Sprintf("sdk: struct has no field %q", name))
	}
	s.Values[i] = v
	return s
}

// Get returns field name's value, or nil.
func (s *StructValue) Get(name string) any {
	if i := s.Schema.Field(name); i >= 0 {
		return s.Values[i]
	}
	return nil
}

// MapEntry is one entry of a map whose keys are not strings.
type MapEntry struct {
	Key, Value any
}

// Header is a record header.
type Header struct {
	Key    string
	Schema *Schema
	Value  any
}

// Values in Go: nil, bool, int8, int16, int32, int64 (or int), float32,
// float64, string, []byte, []any, map[string]any, []MapEntry (maps with other
// key types), *StructValue, and time.Time for the Date, Time and Timestamp
// logical types.

const msPerDay = 24 * 60 * 60 * 1000

func logicalToInt(s *Schema, v time.Time) (int64, error) {
	ms := v.UnixMilli()
	switch s.Name {
	case TimestampName:
		return ms, nil
	case DateName:
		if ms%msPerDay != 0 {
			return 0, fmt.Errorf("date %s has a time part", v)
		}
		return ms / msPerDay, nil
	case TimeName:
		return ((ms % msPerDay) + msPerDay) % msPerDay, nil
	}
	return 0, fmt.Errorf("time.Time value for schema %s %q", s.Type, s.Name)
}

func intToLogical(s *Schema, n int64) (any, bool) {
	switch s.Name {
	case TimestampName, TimeName:
		return time.UnixMilli(n).UTC(), true
	case DateName:
		return time.UnixMilli(n * msPerDay).UTC(), true
	}
	return nil, false
}
