package sdk

import (
	"fmt"
	"time"
	"unsafe"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// schemaCodec converts schemas between Go and the wire. Outgoing
// conversions are remembered by the Go schema's pointer: a source usually
// sends the same few schemas millions of times. Incoming schemas arrive as
// a fresh table with every batch and are converted once per batch (caching
// them by pointer would keep every batch's schemas alive).
type schemaCodec struct {
	out map[*Schema]*pb.Schema
}

func newSchemaCodec() *schemaCodec {
	return &schemaCodec{out: map[*Schema]*pb.Schema{}}
}

func (c *schemaCodec) toProto(s *Schema) (*pb.Schema, error) {
	if s == nil {
		return nil, nil
	}
	if p, ok := c.out[s]; ok {
		return p, nil
	}
	p := &pb.Schema{
		Type:       pb.SchemaType(s.Type),
		Optional:   s.Optional,
		Name:       s.Name,
		Version:    s.Version,
		Doc:        s.Doc,
		Parameters: s.Parameters,
	}
	if s.Type < Int8 || s.Type > Struct {
		return nil, fmt.Errorf("schema has invalid type %d", s.Type)
	}
	var err error
	if p.KeySchema, err = c.toProto(s.Key); err != nil {
		return nil, err
	}
	if p.ValueSchema, err = c.toProto(s.Value); err != nil {
		return nil, err
	}
	for _, f := range s.Fields {
		fs, err := c.toProto(f.Schema)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Name, err)
		}
		p.Fields = append(p.Fields, &pb.Field{Name: f.Name, Schema: fs})
	}
	if s.Default != nil {
		if p.DefaultValue, err = c.valueToProto(s, s.Default); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
		p.HasDefault = true
	}
	c.out[s] = p
	return p, nil
}

func (c *schemaCodec) fromProto(p *pb.Schema) (*Schema, error) {
	if p == nil {
		return nil, nil
	}
	s := &Schema{
		Type:       Type(p.Type),
		Optional:   p.Optional,
		Name:       p.Name,
		Version:    p.Version,
		Doc:        p.Doc,
		Parameters: p.Parameters,
	}
	var err error
	if s.Key, err = c.fromProto(p.KeySchema); err != nil {
		return nil, err
	}
	if s.Value, err = c.fromProto(p.ValueSchema); err != nil {
		return nil, err
	}
	for _, f := range p.Fields {
		fs, err := c.fromProto(f.Schema)
		if err != nil {
			return nil, err
		}
		s.Fields = append(s.Fields, Field{Name: f.Name, Schema: fs})
	}
	if p.HasDefault {
		if s.Default, err = c.valueFromProto(s, p.DefaultValue); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
	}
	return s, nil
}

// valueToProto converts a Go value; s may be nil for schemaless data.
func (c *schemaCodec) valueToProto(s *Schema, v any) (*pb.Value, error) {
	switch x := v.(type) {
	case nil:
		return &pb.Value{}, nil
	case bool:
		return &pb.Value{Kind: &pb.Value_BoolValue{BoolValue: x}}, nil
	case int:
		return intValue(int64(x)), nil
	case int8:
		return intValue(int64(x)), nil
	case int16:
		return intValue(int64(x)), nil
	case int32:
		return intValue(int64(x)), nil
	case int64:
		return intValue(x), nil
	case float32:
		return &pb.Value{Kind: &pb.Value_FloatValue{FloatValue: float64(x)}}, nil
	case float64:
		return &pb.Value{Kind: &pb.Value_FloatValue{FloatValue: x}}, nil
	case string:
		return &pb.Value{Kind: &pb.Value_StringValue{StringValue: x}}, nil
	case []byte:
		return &pb.Value{Kind: &pb.Value_BytesValue{BytesValue: x}}, nil
	case time.Time:
		if s == nil {
			return nil, fmt.Errorf("time.Time value needs a logical-type schema")
		}
		n, err := logicalToInt(s, x)
		if err != nil {
			return nil, err
		}
		return intValue(n), nil
	case []any:
		var elem *Schema
		if s != nil {
			elem = s.Value
		}
		items := make([]*pb.Value, len(x))
		for i, e := range x {
			pv, err := c.valueToProto(elem, e)
			if err != nil {
				return nil, fmt.Errorf("array item %d: %w", i, err)
			}
			items[i] = pv
		}
		return &pb.Value{Kind: &pb.Value_ArrayValue{ArrayValue: &pb.ArrayValue{Items: items}}}, nil
	case map[string]any:
		var ks, vs *Schema
		if s != nil {
			ks, vs = s.Key, s.Value
		}
		entries := make([]*pb.MapEntry, 0, len(x))
		for _, k := range sortedKeys(x) {
			kv, err := c.valueToProto(ks, k)
			if err != nil {
				return nil, err
			}
			vv, err := c.valueToProto(vs, x[k])
			if err != nil {
				return nil, fmt.Errorf("map value %q: %w", k, err)
			}
			entries = append(entries, &pb.MapEntry{Key: kv, Value: vv})
		}
		return &pb.Value{Kind: &pb.Value_MapValue{MapValue: &pb.MapValue{Entries: entries}}}, nil
	case []MapEntry:
		var ks, vs *Schema
		if s != nil {
			ks, vs = s.Key, s.Value
		}
		entries := make([]*pb.MapEntry, len(x))
		for i, e := range x {
			kv, err := c.valueToProto(ks, e.Key)
			if err != nil {
				return nil, fmt.Errorf("map key %d: %w", i, err)
			}
			vv, err := c.valueToProto(vs, e.Value)
			if err != nil {
				return nil, fmt.Errorf("map value %d: %w", i, err)
			}
			entries[i] = &pb.MapEntry{Key: kv, Value: vv}
		}
		return &pb.Value{Kind: &pb.Value_MapValue{MapValue: &pb.MapValue{Entries: entries}}}, nil
	case *StructValue:
		fields := make([]*pb.Value, len(x.Values))
		for i, fv := range x.Values {
			var fs *Schema
			if i < len(x.Schema.Fields) {
				fs = x.Schema.Fields[i].Schema
			}
			pv, err := c.valueToProto(fs, fv)
			if err != nil {
				return nil, fmt.Errorf("struct field %d: %w", i, err)
			}
			fields[i] = pv
		}
		return &pb.Value{Kind: &pb.Value_StructValue{StructValue: &pb.StructValue{Fields: fields}}}, nil
	}
	return nil, fmt.Errorf("unsupported Go type %T", v)
}

func intValue(n int64) *pb.Value { return &pb.Value{Kind: &pb.Value_IntValue{IntValue: n}} }

// valueFromProto converts a wire value to Go, guided by s when present.
func (c *schemaCodec) valueFromProto(s *Schema, p *pb.Value) (any, error) {
	if p == nil {
		return nil, nil
	}
	switch k := p.Kind.(type) {
	case nil:
		return nil, nil
	case *pb.Value_BoolValue:
		return k.BoolValue, nil
	case *pb.Value_IntValue:
		if s == nil {
			return k.IntValue, nil
		}
		if t, ok := intToLogical(s, k.IntValue); ok {
			return t, nil
		}
		switch s.Type {
		case Int8:
			return int8(k.IntValue), nil
		case Int16:
			return int16(k.IntValue), nil
		case Int32:
			return int32(k.IntValue), nil
		}
		return k.IntValue, nil
	case *pb.Value_FloatValue:
		if s != nil && s.Type == Float32 {
			return float32(k.FloatValue), nil
		}
		return k.FloatValue, nil
	case *pb.Value_StringValue:
		return k.StringValue, nil
	case *pb.Value_BytesValue:
		return k.BytesValue, nil
	case *pb.Value_ArrayValue:
		var elem *Schema
		if s != nil {
			elem = s.Value
		}
		out := make([]any, len(k.ArrayValue.Items))
		for i, it := range k.ArrayValue.Items {
			v, err := c.valueFromProto(elem, it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *pb.Value_MapValue:
		var ks, vs *Schema
		if s != nil {
			ks, vs = s.Key, s.Value
		}
		stringKeys := true
		for _, e := range k.MapValue.Entries {
			if _, ok := e.Key.GetKind().(*pb.Value_StringValue); !ok {
				stringKeys = false
				break
			}
		}
		if stringKeys {
			out := make(map[string]any, len(k.MapValue.Entries))
			for _, e := range k.MapValue.Entries {
				v, err := c.valueFromProto(vs, e.Value)
				if err != nil {
					return nil, err
				}
				out[e.Key.GetStringValue()] = v
			}
			return out, nil
		}
		out := make([]MapEntry, len(k.MapValue.Entries))
		for i, e := range k.MapValue.Entries {
			kv, err := c.valueFromProto(ks, e.Key)
			if err != nil {
				return nil, err
			}
			vv, err := c.valueFromProto(vs, e.Value)
			if err != nil {
				return nil, err
			}
			out[i] = MapEntry{Key: kv, Value: vv}
		}
		return out, nil
	case *pb.Value_StructValue:
		if s == nil || s.Type != Struct {
			return nil, fmt.Errorf("struct value without a struct schema")
		}
		out := NewStruct(s)
		for i, fv := range k.StructValue.Fields {
			if i >= len(s.Fields) {
				return nil, fmt.Errorf("struct has %d values for %d fields", len(k.StructValue.Fields), len(s.Fields))
			}
			v, err := c.valueFromProto(s.Fields[i].Schema, fv)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", s.Fields[i].Name, err)
			}
			out.Values[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown value kind %T", p.Kind)
}

// rawValue returns a STRING or BYTES value as pb.Data.Raw carries it
// (never nil: nil is null there).
func rawValue(s *Schema, v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		if s.Type != String {
			return nil, false
		}
		if x == "" {
			return []byte{}, true
		}
		// Marshalling only reads the bytes: no copy is needed.
		return unsafe.Slice(unsafe.StringData(x), len(x)), true
	case []byte:
		if s.Type != Bytes {
			return nil, false
		}
		if x == nil {
			return []byte{}, true
		}
		return x, true
	}
	return nil, false
}

// fromTable converts an incoming batch's schema table.
func (c *schemaCodec) fromTable(ps []*pb.Schema) ([]*Schema, error) {
	out := make([]*Schema, len(ps))
	for i, p := range ps {
		s, err := c.fromProto(p)
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", i+1, err)
		}
		out[i] = s
	}
	return out, nil
}

// fromData converts an incoming value; schemas is its batch's table.
func (c *schemaCodec) fromData(schemas []*Schema, d *pb.Data) (*Schema, any, error) {
	if d == nil {
		return nil, nil, nil
	}
	var s *Schema
	if d.Schema > 0 {
		if int(d.Schema) > len(schemas) {
			return nil, nil, fmt.Errorf("schema %d of a batch with %d", d.Schema, len(schemas))
		}
		s = schemas[d.Schema-1]
	}
	if d.Raw != nil {
		switch {
		case s != nil && s.Type == String:
			// Incoming bytes are a private copy (see codec): the string
			// may share them, as decoded strings do.
			return s, unsafe.String(unsafe.SliceData(d.Raw), len(d.Raw)), nil
		case s != nil && s.Type == Bytes:
			return s, d.Raw, nil
		}
		return nil, nil, fmt.Errorf("raw value needs a STRING or BYTES schema")
	}
	v, err := c.valueFromProto(s, d.Value)
	return s, v, err
}
