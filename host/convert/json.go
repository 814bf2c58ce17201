package convert

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferry-connect/ferry/internal/jackson"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// jsonConverter is Kafka Connect's JsonConverter: the same bytes out, the
// same data in. Keys: schemas.enable (true), decimal.format (BASE64 or
// NUMERIC), replace.null.with.default (true).
type jsonConverter struct {
	schemas         bool
	numericDecimals bool
	replaceNull     bool

	// The last schema serialised, and its JSON: a batch's records share
	// their schemas (pb.Data.Schema), so one entry catches nearly all.
	lastSchema *pb.Schema
	lastJSON   []byte
	// The last schema parsed by ToConnect, the JSON it came from, and the
	// envelope's bytes up to the payload with that schema.
	inJSON   []byte
	inSchema *pb.Schema
	inPrefix []byte
}

func newJSON(cfg map[string]string) (*jsonConverter, error) {
	c := &jsonConverter{schemas: true, replaceNull: true}
	var err error
	if v, ok := cfg["schemas.enable"]; ok {
		if c.schemas, err = strconv.ParseBool(strings.TrimSpace(v)); err != nil {
			return nil, fmt.Errorf("schemas.enable: invalid boolean %q", v)
		}
	}
	if v, ok := cfg["replace.null.with.default"]; ok {
		if c.replaceNull, err = strconv.ParseBool(strings.TrimSpace(v)); err != nil {
			return nil, fmt.Errorf("replace.null.with.default: invalid boolean %q", v)
		}
	}
	switch v := strings.ToUpper(strings.TrimSpace(cfg["decimal.format"])); v {
	case "", "BASE64":
	case "NUMERIC":
		c.numericDecimals = true
	default:
		return nil, fmt.Errorf("decimal.format: invalid value %q (BASE64 or NUMERIC)", cfg["decimal.format"])
	}
	return c, nil
}

const decimalName = "org.apache.kafka.connect.data.Decimal"

func (c *jsonConverter) FromConnect(_ string, s *pb.Schema, d *pb.Data) ([]byte, error) {
	if s == nil && isNull(d) {
		return nil, nil
	}
	if !c.schemas {
		return c.appendData(make([]byte, 0, 64+len(d.GetRaw())), s, d)
	}
	var schema []byte
	if s == nil {
		schema = []byte("null")
	} else if s == c.lastSchema {
		schema = c.lastJSON
	} else {
		var err error
		if schema, err = c.appendSchema(nil, s); err != nil {
			return nil, err
		}
		c.lastSchema, c.lastJSON = s, schema
	}
	buf := make([]byte, 0, len(`{"schema":,"payload":}`)+len(schema)+len(d.GetRaw())+32)
	buf = append(buf, `{"schema":`...)
	buf = append(buf, schema...)
	buf = append(buf, `,"payload":`...)
	buf, err := c.appendData(buf, s, d)
	if err != nil {
		return nil, err
	}
	return append(buf, '}'), nil
}

// appendData writes d's value; a raw string or bytes value goes straight
// from its bytes.
func (c *jsonConverter) appendData(buf []byte, s *pb.Schema, d *pb.Data) ([]byte, error) {
	switch {
	case d.GetRaw() == nil:
		return c.appendValue(buf, s, d.GetValue())
	case s.GetType() == pb.SchemaType_SCHEMA_TYPE_STRING:
		return jackson.AppendString(buf, d.Raw), nil
	}
	return appendBytes(buf, s, d.Raw, c.numericDecimals), nil
}

var jsonTypeNames = map[pb.SchemaType]string{
	pb.SchemaType_SCHEMA_TYPE_BOOLEAN: "boolean",
	pb.SchemaType_SCHEMA_TYPE_INT8:    "int8",
	pb.SchemaType_SCHEMA_TYPE_INT16:   "int16",
	pb.SchemaType_SCHEMA_TYPE_INT32:   "int32",
	pb.SchemaType_SCHEMA_TYPE_INT64:   "int64",
	pb.SchemaType_SCHEMA_TYPE_FLOAT32: "float",
	pb.SchemaType_SCHEMA_TYPE_FLOAT64: "double",
	pb.SchemaType_SCHEMA_TYPE_BYTES:   "bytes",
	pb.SchemaType_SCHEMA_TYPE_STRING:  "string",
	pb.SchemaType_SCHEMA_TYPE_ARRAY:   "array",
	pb.SchemaType_SCHEMA_TYPE_MAP:     "map",
	pb.SchemaType_SCHEMA_TYPE_STRUCT:  "struct",
}

// appendSchema writes s in JsonConverter's field order: type, items / keys,
// values / fields, optional, name, version, doc, parameters, default.
func (c *jsonConverter) appendSchema(buf []byte, s *pb.Schema) ([]byte, error) {
	name, ok := jsonTypeNames[s.Type]
	if !ok {
		return nil, fmt.Errorf("couldn't translate unsupported schema type %s", s.Type)
	}
	buf = append(buf, `{"type":"`...)
	buf = append(buf, name...)
	buf = append(buf, '"')
	var err error
	switch s.Type {
	case pb.SchemaType_SCHEMA_TYPE_ARRAY:
		if s.ValueSchema == nil {
			return nil, errors.New("array schema has no element schema")
		}
		buf = append(buf, `,"items":`...)
		if buf, err = c.appendSchema(buf, s.ValueSchema); err != nil {
			return nil, err
		}
	case pb.SchemaType_SCHEMA_TYPE_MAP:
		if s.KeySchema == nil || s.ValueSchema == nil {
			return nil, errors.New("map schema needs key and value schemas")
		}
		buf = append(buf, `,"keys":`...)
		if buf, err = c.appendSchema(buf, s.KeySchema); err != nil {
			return nil, err
		}
		buf = append(buf, `,"values":`...)
		if buf, err = c.appendSchema(buf, s.ValueSchema); err != nil {
			return nil, err
		}
	case pb.SchemaType_SCHEMA_TYPE_STRUCT:
		buf = append(buf, `,"fields":[`...)
		for i, f := range s.Fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = c.appendSchema(buf, f.Schema); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			// The field name goes last: JsonConverter adds it to a copy
			// of the field's schema.
			buf = append(buf[:len(buf)-1], `,"field":`...)
			buf = jackson.AppendString(buf, f.Name)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"optional":`...)
	buf = strconv.AppendBool(buf, s.Optional)
	if s.Name != "" {
		buf = append(buf, `,"name":`...)
		buf = jackson.AppendString(buf, s.Name)
	}
	if s.Version != 0 {
		buf = append(buf, `,"version":`...)
		buf = strconv.AppendInt(buf, int64(s.Version), 10)
	}
	if s.Doc != "" {
		buf = append(buf, `,"doc":`...)
		buf = jackson.AppendString(buf, s.Doc)
	}
	if len(s.Parameters) > 0 {
		// Parameters are written in key order: the wire keeps them in a
		// map, where Kafka keeps insertion order (docs/compatibility.md).
		buf = append(buf, `,"parameters":{`...)
		keys := make([]string, 0, len(s.Parameters))
		for k := range s.Parameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = jackson.AppendString(buf, k)
			buf = append(buf, ':')
			buf = jackson.AppendString(buf, s.Parameters[k])
		}
		buf = append(buf, '}')
	}
	if s.HasDefault && s.DefaultValue.GetKind() != nil {
		buf = append(buf, `,"default":`...)
		if buf, err = c.appendValue(buf, s, s.DefaultValue); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
	}
	return append(buf, '}'), nil
}

func (c *jsonConverter) appendValue(buf []byte, s *pb.Schema, v *pb.Value) ([]byte, error) {
	return appendValueOpts(buf, s, v, c.numericDecimals, c.replaceNull)
}

// appendValue writes v as JSON with base64 decimals, for text rendering.
func appendValue(buf []byte, s *pb.Schema, v *pb.Value, numeric bool) ([]byte, error) {
	return appendValueOpts(buf, s, v, numeric, true)
}

func appendValueOpts(buf []byte, s *pb.Schema, v *pb.Value, numeric, replaceNull bool) ([]byte, error) {
	if v.GetKind() == nil {
		switch {
		case s == nil:
			return append(buf, "null"...), nil
		case replaceNull && s.HasDefault && s.DefaultValue.GetKind() != nil:
			return appendValueOpts(buf, s, s.DefaultValue, numeric, replaceNull)
		case s.Optional:
			return append(buf, "null"...), nil
		}
		return nil, errors.New("conversion error: null value for field that is required and has no default value")
	}
	switch k := v.Kind.(type) {
	case *pb.Value_BoolValue:
		return strconv.AppendBool(buf, k.BoolValue), nil
	case *pb.Value_IntValue:
		return strconv.AppendInt(buf, k.IntValue, 10), nil
	case *pb.Value_FloatValue:
		f := k.FloatValue
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return jackson.AppendString(buf, javaFloat(f, false)), nil
		}
		return append(buf, javaFloat(f, s != nil && s.Type == pb.SchemaType_SCHEMA_TYPE_FLOAT32)...), nil
	case *pb.Value_StringValue:
		return jackson.AppendString(buf, k.StringValue), nil
	case *pb.Value_BytesValue:
		return appendBytes(buf, s, k.BytesValue, numeric), nil
	case *pb.Value_ArrayValue:
		var elem *pb.Schema
		if s != nil {
			elem = s.ValueSchema
		}
		buf = append(buf, '[')
		var err error
		for i, it := range k.ArrayValue.Items {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = appendValueOpts(buf, elem, it, numeric, replaceNull); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case *pb.Value_MapValue:
		var ks, vs *pb.Schema
		objectMode := true
		if s != nil {
			ks, vs = s.KeySchema, s.ValueSchema
			objectMode = ks != nil && ks.Type == pb.SchemaType_SCHEMA_TYPE_STRING
		} else {
			for _, e := range k.MapValue.Entries {
				if _, ok := e.Key.GetKind().(*pb.Value_StringValue); !ok {
					objectMode = false
					break
				}
			}
		}
		var err error
		if objectMode {
			buf = append(buf, '{')
		} else {
			buf = append(buf, '[')
		}
		for i, e := range k.MapValue.Entries {
			if i > 0 {
				buf = append(buf, ',')
			}
			if objectMode {
				buf = jackson.AppendString(buf, e.Key.GetStringValue())
				buf = append(buf, ':')
			} else {
				buf = append(buf, '[')
				if buf, err = appendValueOpts(buf, ks, e.Key, numeric, replaceNull); err != nil {
					return nil, err
				}
				buf = append(buf, ',')
			}
			if buf, err = appendValueOpts(buf, vs, e.Value, numeric, replaceNull); err != nil {
				return nil, err
			}
			if !objectMode {
				buf = append(buf, ']')
			}
		}
		if objectMode {
			return append(buf, '}'), nil
		}
		return append(buf, ']'), nil
	case *pb.Value_StructValue:
		if s == nil || s.Type != pb.SchemaType_SCHEMA_TYPE_STRUCT {
			return nil, errors.New("struct value without a struct schema")
		}
		if len(k.StructValue.Fields) != len(s.Fields) {
			return nil, fmt.Errorf("struct has %d values for %d fields", len(k.StructValue.Fields), len(s.Fields))
		}
		buf = append(buf, '{')
		var err error
		for i, f := range s.Fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = jackson.AppendString(buf, f.Name)
			buf = append(buf, ':')
			if buf, err = appendValueOpts(buf, f.Schema, k.StructValue.Fields[i], numeric, replaceNull); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		return append(buf, '}'), nil
	}
	return nil, fmt.Errorf("unknown value kind %T", v.Kind)
}

// decimalString renders a big-endian two's-complement unscaled value.
func decimalString(unscaled []byte, scaleParam string) string {
	scale, _ := strconv.Atoi(scaleParam)
	n := new(big.Int).SetBytes(unscaled)
	if len(unscaled) > 0 && unscaled[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(unscaled)*8)))
	}
	s := n.String()
	if scale <= 0 {
		return s + strings.Repeat("0", -scale)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// javaFloat formats f as Java's Double.toString (or Float.toString), which
// is what Jackson writes.
func javaFloat(f float64, is32 bool) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	bits := 64
	if is32 {
		bits = 32
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, bits) // e.g. 1.234e-05
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// appendBytes writes a BYTES value: base64, or a number for a Decimal when
// numeric.
func appendBytes(buf []byte, s *pb.Schema, b []byte, numeric bool) []byte {
	if numeric && s != nil && s.Name == decimalName {
		return append(buf, decimalString(b, s.Parameters["scale"])...)
	}
	buf = append(buf, '"')
	buf = base64.StdEncoding.AppendEncode(buf, b)
	return append(buf, '"')
}

// ToConnect parses b as JsonConverter does.
func (c *jsonConverter) ToConnect(_ string, b []byte, d *pb.Data) (*pb.Schema, error) {
	if b == nil {
		return nil, nil
	}
	if !c.schemas {
		v, err := inferJSON(b)
		if err != nil {
			return nil, err
		}
		d.Value = v
		return nil, nil
	}
	// What JsonConverter writes for a string record with the last schema
	// seen needs no parsing: {"schema":<that schema>,"payload":"<text>"}.
	if c.inSchema.GetType() == pb.SchemaType_SCHEMA_TYPE_STRING {
		if rest, ok := bytes.CutPrefix(b, c.inPrefix); ok {
			if payload, ok := bytes.CutSuffix(rest, []byte("}")); ok {
				if raw, ok := plainString(payload); ok {
					d.Raw = raw
					return c.inSchema, nil
				}
			}
		}
	}
	var env map[string]json.RawMessage
	if err := decodeJSON(b, &env); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, err
		}
	}
	schema, hasSchema := env["schema"]
	payload, hasPayload := env["payload"]
	if len(env) != 2 || !hasSchema || !hasPayload {
		return nil, errors.New(`JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.`)
	}
	if string(schema) == "null" {
		v, err := inferJSON(payload)
		if err != nil {
			return nil, err
		}
		d.Value = v
		return nil, nil
	}
	// Records of one topic nearly always share a schema: parse it once.
	s := c.inSchema
	if !bytes.Equal(schema, c.inJSON) {
		var doc any
		if err := decodeJSON(schema, &doc); err != nil {
			return nil, err
		}
		var err error
		if s, err = parseSchema(doc); err != nil {
			return nil, err
		}
		c.inJSON, c.inSchema = schema, s
		c.inPrefix = append(append([]byte(`{"schema":`), schema...), `,"payload":`...)
	}
	if raw, ok := plainString(payload); ok && s.Type == pb.SchemaType_SCHEMA_TYPE_STRING {
		d.Raw = raw
		return s, nil
	}
	var doc any
	if err := decodeJSON(payload, &doc); err != nil {
		return nil, err
	}
	v, err := c.toValue(s, doc)
	if err != nil {
		return nil, err
	}
	d.Value = v
	return s, nil
}

// decodeJSON decodes the first JSON value of b into v, with numbers kept
// exact; like Jackson's readTree, it ignores what follows.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("converting byte[] to Kafka Connect data failed due to serialization error: %w", err)
	}
	return nil
}

func inferJSON(b []byte) (*pb.Value, error) {
	var doc any
	if err := decodeJSON(b, &doc); err != nil {
		return nil, err
	}
	return inferValue(doc)
}

// plainString returns the contents of a valid JSON string with no escapes
// (no quote, backslash or control character inside) and valid UTF-8: the
// bytes decoding would give, without decoding.
func plainString(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, false
	}
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return nil, false
		}
	}
	if !utf8.Valid(in) {
		return nil, false
	}
	return in, true
}

var schemaTypes = func() map[string]pb.SchemaType {
	m := map[string]pb.SchemaType{}
	for t, n := range jsonTypeNames {
		m[n] = t
	}
	return m
}()

func parseSchema(doc any) (*pb.Schema, error) {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("schema must be a JSON object")
	}
	tn, _ := obj["type"].(string)
	t, ok := schemaTypes[tn]
	if !ok {
		if tn == "" {
			return nil, errors.New("schema must contain 'type' field")
		}
		return nil, fmt.Errorf("unknown schema type: %s", tn)
	}
	s := &pb.Schema{Type: t}
	var err error
	switch t {
	case pb.SchemaType_SCHEMA_TYPE_ARRAY:
		if obj["items"] == nil {
			return nil, errors.New("array schema did not specify the element type")
		}
		if s.ValueSchema, err = parseSchema(obj["items"]); err != nil {
			return nil, err
		}
	case pb.SchemaType_SCHEMA_TYPE_MAP:
		if obj["keys"] == nil || obj["values"] == nil {
			return nil, errors.New("map schema did not specify the key or value type")
		}
		if s.KeySchema, err = parseSchema(obj["keys"]); err != nil {
			return nil, err
		}
		if s.ValueSchema, err = parseSchema(obj["values"]); err != nil {
			return nil, err
		}
	case pb.SchemaType_SCHEMA_TYPE_STRUCT:
		fields, ok := obj["fields"].([]any)
		if !ok {
			return nil, errors.New(`struct schema's "fields" argument is not an array`)
		}
		for _, f := range fields {
			fo, _ := f.(map[string]any)
			name, ok := fo["field"].(string)
			if !ok {
				return nil, errors.New("struct schema's field name not specified properly")
			}
			fs, err := parseSchema(f)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", name, err)
			}
			s.Fields = append(s.Fields, &pb.Field{Name: name, Schema: fs})
		}
	}
	s.Optional, _ = obj["optional"].(bool)
	s.Name, _ = obj["name"].(string)
	if n, ok := obj["version"].(json.Number); ok {
		if v, err := n.Int64(); err == nil {
			s.Version = int32(v)
		}
	}
	s.Doc, _ = obj["doc"].(string)
	if params, ok := obj["parameters"].(map[string]any); ok {
		s.Parameters = map[string]string{}
		for k, v := range params {
			str, ok := v.(string)
			if !ok {
				return nil, errors.New("schema parameters must have string values")
			}
			s.Parameters[k] = str
		}
	}
	if d, ok := obj["default"]; ok && d != nil {
		c := &jsonConverter{replaceNull: true}
		if s.DefaultValue, err = c.toValue(s, d); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
		s.HasDefault = true
	}
	return s, nil
}

// toValue converts a JSON payload to a value of schema s.
func (c *jsonConverter) toValue(s *pb.Schema, doc any) (*pb.Value, error) {
	if doc == nil {
		switch {
		case c.replaceNull && s.HasDefault:
			return s.DefaultValue, nil
		case s.Optional:
			return &pb.Value{}, nil
		}
		return nil, fmt.Errorf("invalid null value for required %s field", typeName(s.Type))
	}
	mismatch := func() error {
		return fmt.Errorf("JSON value %v does not match schema type %s", doc, typeName(s.Type))
	}
	switch s.Type {
	case pb.SchemaType_SCHEMA_TYPE_BOOLEAN:
		b, ok := doc.(bool)
		if !ok {
			return nil, mismatch()
		}
		return &pb.Value{Kind: &pb.Value_BoolValue{BoolValue: b}}, nil
	case pb.SchemaType_SCHEMA_TYPE_INT8, pb.SchemaType_SCHEMA_TYPE_INT16, pb.SchemaType_SCHEMA_TYPE_INT32, pb.SchemaType_SCHEMA_TYPE_INT64:
		n, ok := doc.(json.Number)
		if !ok {
			return nil, mismatch()
		}
		i, err := n.Int64()
		if err != nil {
			f, ferr := n.Float64()
			if ferr != nil {
				return nil, mismatch()
			}
			i = int64(f)
		}
		return &pb.Value{Kind: &pb.Value_IntValue{IntValue: i}}, nil
	case pb.SchemaType_SCHEMA_TYPE_FLOAT32, pb.SchemaType_SCHEMA_TYPE_FLOAT64:
		n, ok := doc.(json.Number)
		if !ok {
			return nil, mismatch()
		}
		f, err := n.Float64()
		if err != nil {
			return nil, mismatch()
		}
		// Jackson reads -0.0 as 0.0; so do we.
		if f == 0 {
			f = 0
		}
		return &pb.Value{Kind: &pb.Value_FloatValue{FloatValue: f}}, nil
	case pb.SchemaType_SCHEMA_TYPE_STRING:
		str, ok := doc.(string)
		if !ok {
			return nil, mismatch()
		}
		return &pb.Value{Kind: &pb.Value_StringValue{StringValue: str}}, nil
	case pb.SchemaType_SCHEMA_TYPE_BYTES:
		if n, ok := doc.(json.Number); ok && s.Name == decimalName {
			return decimalBytes(n, s.Parameters["scale"])
		}
		str, ok := doc.(string)
		if !ok {
			return nil, mismatch()
		}
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return nil, fmt.Errorf("invalid bytes field: %w", err)
		}
		return &pb.Value{Kind: &pb.Value_BytesValue{BytesValue: b}}, nil
	case pb.SchemaType_SCHEMA_TYPE_ARRAY:
		arr, ok := doc.([]any)
		if !ok {
			return nil, mismatch()
		}
		items := make([]*pb.Value, len(arr))
		for i, e := range arr {
			v, err := c.toValue(s.ValueSchema, e)
			if err != nil {
				return nil, err
			}
			items[i] = v
		}
		return &pb.Value{Kind: &pb.Value_ArrayValue{ArrayValue: &pb.ArrayValue{Items: items}}}, nil
	case pb.SchemaType_SCHEMA_TYPE_MAP:
		var entries []*pb.MapEntry
		if s.KeySchema.Type == pb.SchemaType_SCHEMA_TYPE_STRING {
			obj, ok := doc.(map[string]any)
			if !ok {
				return nil, mismatch()
			}
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v, err := c.toValue(s.ValueSchema, obj[k])
				if err != nil {
					return nil, err
				}
				entries = append(entries, &pb.MapEntry{Key: &pb.Value{Kind: &pb.Value_StringValue{StringValue: k}}, Value: v})
			}
		} else {
			arr, ok := doc.([]any)
			if !ok {
				return nil, mismatch()
			}
			for _, e := range arr {
				pair, ok := e.([]any)
				if !ok || len(pair) != 2 {
					return nil, errors.New("found invalid map entry instead of array tuple")
				}
				k, err := c.toValue(s.KeySchema, pair[0])
				if err != nil {
					return nil, err
				}
				v, err := c.toValue(s.ValueSchema, pair[1])
				if err != nil {
					return nil, err
				}
				entries = append(entries, &pb.MapEntry{Key: k, Value: v})
			}
		}
		return &pb.Value{Kind: &pb.Value_MapValue{MapValue: &pb.MapValue{Entries: entries}}}, nil
	case pb.SchemaType_SCHEMA_TYPE_STRUCT:
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil, mismatch()
		}
		fields := make([]*pb.Value, len(s.Fields))
		for i, f := range s.Fields {
			v, err := c.toValue(f.Schema, obj[f.Name])
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			fields[i] = v
		}
		return &pb.Value{Kind: &pb.Value_StructValue{StructValue: &pb.StructValue{Fields: fields}}}, nil
	}
	return nil, mismatch()
}

func decimalBytes(n json.Number, scaleParam string) (*pb.Value, error) {
	scale, _ := strconv.Atoi(scaleParam)
	r, ok := new(big.Rat).SetString(n.String())
	if !ok {
		return nil, fmt.Errorf("invalid decimal %s", n)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	unscaled := new(big.Int).Quo(r.Num(), r.Denom())
	return &pb.Value{Kind: &pb.Value_BytesValue{BytesValue: twosComplement(unscaled)}}, nil
}

// twosComplement is Java's BigInteger.toByteArray.
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	size := (n.BitLen()+8)/8 + 0
	mod := new(big.Int).Lsh(big.NewInt(1), uint(size*8))
	b := new(big.Int).Add(n, mod).Bytes()
	for len(b) < size {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// inferValue converts schemaless JSON: integral numbers to INT64, other
// numbers to FLOAT64, objects to maps, arrays to arrays.
func inferValue(doc any) (*pb.Value, error) {
	switch x := doc.(type) {
	case nil:
		return &pb.Value{}, nil
	case bool:
		return &pb.Value{Kind: &pb.Value_BoolValue{BoolValue: x}}, nil
	case json.Number:
		if !strings.ContainsAny(x.String(), ".eE") {
			if i, err := x.Int64(); err == nil {
				return &pb.Value{Kind: &pb.Value_IntValue{IntValue: i}}, nil
			}
		}
		f, err := x.Float64()
		if err != nil {
			return nil, err
		}
		return &pb.Value{Kind: &pb.Value_FloatValue{FloatValue: f}}, nil
	case string:
		return &pb.Value{Kind: &pb.Value_StringValue{StringValue: x}}, nil
	case []any:
		items := make([]*pb.Value, len(x))
		for i, e := range x {
			v, err := inferValue(e)
			if err != nil {
				return nil, err
			}
			items[i] = v
		}
		return &pb.Value{Kind: &pb.Value_ArrayValue{ArrayValue: &pb.ArrayValue{Items: items}}}, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		entries := make([]*pb.MapEntry, 0, len(x))
		for _, k := range keys {
			v, err := inferValue(x[k])
			if err != nil {
				return nil, err
			}
			entries = append(entries, &pb.MapEntry{Key: &pb.Value{Kind: &pb.Value_StringValue{StringValue: k}}, Value: v})
		}
		return &pb.Value{Kind: &pb.Value_MapValue{MapValue: &pb.MapValue{Entries: entries}}}, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", doc)
}
