package sdk

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

func TestWireRoundTrip(t *testing.T) {
	point := &Schema{Type: Struct, Name: "Point", Fields: []Field{{"x", Float64Schema}, {"y", &Schema{Type: Float32, Optional: true}}}}
	row := &Schema{Type: Struct, Name: "Row", Version: 2, Fields: []Field{
		{"id", Int32Schema},
		{"tags", &Schema{Type: Array, Value: StringSchema}},
		{"attrs", &Schema{Type: Map, Key: StringSchema, Value: Int64Schema}},
		{"ids", &Schema{Type: Map, Key: Int32Schema, Value: StringSchema}},
		{"at", TimestampSchema},
		{"pos", point},
		{"name", &Schema{Type: String, Optional: true, Default: "anon"}},
	}}
	at := time.UnixMilli(1700000000123).UTC()
	value := NewStruct(row).
		Set("id", int32(7)).
		Set("tags", []any{"a", "b"}).
		Set("attrs", map[string]any{"k": int64(1)}).
		Set("ids", []MapEntry{{int32(1), "one"}}).
		Set("at", at).
		Set("pos", NewStruct(point).Set("x", 1.5).Set("y", float32(2.5))).
		Set("name", nil)

	s, v := wireRoundTrip(t, row, value)
	got := v.(*StructValue)
	if s.Name != "Row" || s.Version != 2 || s.Fields[6].Schema.Default != "anon" {
		t.Errorf("schema = %+v", s)
	}
	for _, f := range []string{"id", "tags", "attrs", "ids", "at", "name"} {
		if !reflect.DeepEqual(got.Get(f), value.Get(f)) {
			t.Errorf("field %s = %#v, want %#v", f, got.Get(f), value.Get(f))
		}
	}
	pos := got.Get("pos").(*StructValue)
	if pos.Get("x") != 1.5 || pos.Get("y") != float32(2.5) {
		t.Errorf("pos = %+v", pos.Values)
	}
	if _, err := newSchemaCodec().valueToProto(nil, struct{}{}); err == nil {
		t.Error("unsupported Go type accepted")
	}
}

// wireRoundTrip sends one value from a source's batch to a sink's put
// through the protobuf encoding, as between a source and a sink.
func wireRoundTrip(t *testing.T, s *Schema, v any) (*Schema, any) {
	t.Helper()
	batch := encodeTestBatch(t, newSourceEncoder(), []SourceRecord{{Topic: "t", ValueSchema: s, Value: v, Key: "k", KeySchema: StringSchema}})
	r := batch.Records[0]
	got := decodeTestPut(t, &pb.SinkPut{Schemas: batch.Schemas, Records: []*pb.SinkRecord{{Topic: r.Topic, Key: r.Key, Value: r.Value}}})
	if len(got) != 1 || got[0].KeySchema.Type != String || got[0].Key != "k" {
		t.Fatalf("records = %+v", got)
	}
	return got[0].ValueSchema, got[0].Value
}

// encodeTestBatch encodes records as a source task sends them and decodes
// them as the host does.
func encodeTestBatch(t *testing.T, enc *sourceEncoder, records []SourceRecord) *pb.SourceRunResponse {
	t.Helper()
	b, err := enc.encode(nil, records)
	if err != nil {
		t.Fatal(err)
	}
	batch := &pb.SourceRunResponse{}
	if err := batch.UnmarshalVT(b); err != nil {
		t.Fatal(err)
	}
	return batch
}

// Everything of a source record besides its values, the schema table, and
// records that cannot be encoded.
func TestSourceEncoder(t *testing.T) {
	partition := map[string]any{"file": "in.txt"}
	zero, three := int32(0), int32(3)
	at := time.UnixMilli(1700000000123)
	enc := newSourceEncoder()
	got := encodeTestBatch(t, enc, []SourceRecord{
		{Partition: partition, Offset: map[string]any{"position": 1}, Topic: "a", ValueSchema: StringSchema, Value: "v1"},
		{Partition: partition, Offset: map[string]any{"position": 2}, Topic: "a", KafkaPartition: &zero,
			KeySchema: BytesSchema, Key: []byte{}, ValueSchema: OptionalStringSchema, Timestamp: at,
			Headers: []Header{{Key: "h1", Schema: StringSchema, Value: "h"}, {Key: "h2"}}},
		{Topic: "b", KafkaPartition: &three, Value: int64(7)},
	})
	str := []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_STRING}, {Type: pb.SchemaType_SCHEMA_TYPE_BYTES},
		{Type: pb.SchemaType_SCHEMA_TYPE_STRING, Optional: true}}
	want := &pb.SourceRunResponse{Schemas: str, Records: []*pb.SourceRecord{
		{SourcePartition: []byte(`{"file":"in.txt"}`), SourceOffset: []byte(`{"position":1}`), Topic: "a", KafkaPartition: -1,
			Value: &pb.Data{Schema: 1, Raw: []byte("v1")}},
		{SourcePartition: []byte(`{"file":"in.txt"}`), SourceOffset: []byte(`{"position":2}`), Topic: "a",
			Key: &pb.Data{Schema: 2, Raw: []byte{}}, Value: &pb.Data{Schema: 3, Value: &pb.Value{}}, TimestampMs: at.UnixMilli(),
			Headers: []*pb.Header{{Key: "h1", Value: &pb.Data{Schema: 1, Raw: []byte("h")}}, {Key: "h2"}}},
		{Topic: "b", KafkaPartition: 3, Value: &pb.Data{Value: &pb.Value{Kind: &pb.Value_IntValue{IntValue: 7}}}},
	}}
	if !proto.Equal(got, want) {
		t.Errorf("encoded\n%v\nwant\n%v", got, want)
	}
	// The next batch has a table of its own.
	if got := encodeTestBatch(t, enc, []SourceRecord{{Topic: "a", ValueSchema: BytesSchema, Value: []byte("x")}}); len(got.Schemas) != 1 ||
		got.Schemas[0].Type != pb.SchemaType_SCHEMA_TYPE_BYTES || got.Records[0].Value.Schema != 1 {
		t.Errorf("second batch = %v", got)
	}

	for want, r := range map[string]SourceRecord{
		"record 0 offset: encode":                           {Topic: "a", Offset: map[string]any{"c": make(chan int)}},
		"record 0 partition: encode":                        {Topic: "a", Partition: map[string]any{"c": make(chan int)}},
		"record 0 key: schema has invalid type 99":          {Topic: "a", KeySchema: &Schema{Type: 99}, Key: "k"},
		"record 0 value: unsupported Go type struct {}":     {Topic: "a", Value: struct{}{}},
		"record 0 header \"h\": unsupported Go type func()": {Topic: "a", Headers: []Header{{Key: "h", Value: func() {}}}},
	} {
		if _, err := enc.encode(nil, []SourceRecord{r}); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %v, want %q...", err, want)
		}
	}
}

// decodeTestPut encodes put as the host sends it and decodes it as the
// SDK does.
func decodeTestPut(t *testing.T, put *pb.SinkPut) []SinkRecord {
	t.Helper()
	return decodeTestPutInto(t, put, nil)
}

// decodeTestPutInto decodes put into reuse, as for a SinkRecordsReuser.
func decodeTestPutInto(t *testing.T, put *pb.SinkPut, reuse []SinkRecord) []SinkRecord {
	t.Helper()
	b, err := (&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Put{Put: put}}).MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := putBytes(b)
	if err != nil || !ok {
		t.Fatalf("putBytes = %v %v", ok, err)
	}
	records, err := decodePut(newSchemaCodec(), p, reuse)
	if err != nil {
		t.Fatal(err)
	}
	return records
}

// Everything of a sink record besides its values, and malformed puts.
func TestDecodePut(t *testing.T) {
	str := &pb.Data{Schema: 1, Raw: []byte("h")}
	got := decodeTestPut(t, &pb.SinkPut{
		Schemas: []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_STRING, Optional: true}},
		Records: []*pb.SinkRecord{
			{Topic: "a", KafkaPartition: 3, KafkaOffset: 42, TimestampMs: 1700000000123, Value: &pb.Data{Schema: 1},
				Headers: []*pb.Header{{Key: "h1", Value: str}, {Key: "h2"}}},
			{Topic: "a", KafkaOffset: 43, Key: &pb.Data{Schema: 1}},
			{Topic: "b"},
		},
	})
	opt := &Schema{Type: String, Optional: true}
	want := []SinkRecord{
		{Topic: "a", Partition: 3, Offset: 42, Timestamp: time.UnixMilli(1700000000123).UTC(), ValueSchema: opt,
			Headers: []Header{{Key: "h1", Schema: opt, Value: "h"}, {Key: "h2"}}},
		{Topic: "a", Offset: 43, KeySchema: opt},
		{Topic: "b"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
	// Decoded into the same records, a put leaves nothing of the last.
	again := decodeTestPutInto(t, &pb.SinkPut{Records: []*pb.SinkRecord{{Topic: "c", KafkaOffset: 7}}}, got)
	if want := []SinkRecord{{Topic: "c", Offset: 7}}; !reflect.DeepEqual(again, want) || &again[0] != &got[0] {
		t.Errorf("decoded into the last put's records\n%+v\nwant\n%+v, in the same array", again, want)
	}

	flush, _ := (&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Flush{Flush: &pb.SinkFlush{Id: 1}}}).MarshalVT()
	if _, ok, err := putBytes(flush); ok || err != nil {
		t.Errorf("a flush taken for a put: %v %v", ok, err)
	}
	good, _ := (&pb.SinkPut{Records: []*pb.SinkRecord{{Topic: "t", Value: str}}}).MarshalVT()
	for name, b := range map[string][]byte{
		"truncated":  good[:len(good)-1],
		"bad schema": good, // refers to schema 1 of none
	} {
		if _, err := decodePut(newSchemaCodec(), b, nil); err == nil {
			t.Errorf("%s put accepted", name)
		}
	}
	if _, err := decodePut(newSchemaCodec(), good, nil); err == nil || !strings.Contains(err.Error(), "record t-0@0: value: schema 1") {
		t.Errorf("error = %v, want one naming the record", err)
	}
}

// Strings and bytes take the raw path when their schema says which; nulls,
// empty values and schemaless values must survive it.
func TestWireRawValues(t *testing.T) {
	for _, c := range []struct {
		schema *Schema
		value  any
		want   any
	}{
		{StringSchema, "text", "text"},
		{StringSchema, "", ""},
		{OptionalStringSchema, nil, nil},
		{BytesSchema, []byte{0, 1}, []byte{0, 1}},
		{BytesSchema, []byte{}, []byte{}},
		{nil, "schemaless", "schemaless"},
		{nil, []byte("b"), []byte("b")},
		{nil, nil, nil},
		{Int64Schema, int64(5), int64(5)},
	} {
		s, v := wireRoundTrip(t, c.schema, c.value)
		if (s == nil) != (c.schema == nil) || (s != nil && s.Type != c.schema.Type) {
			t.Errorf("%#v: schema = %+v", c.value, s)
		}
		if !reflect.DeepEqual(v, c.want) {
			t.Errorf("%#v: value = %#v", c.value, v)
		}
	}
}

func TestResolveConfig(t *testing.T) {
	defs := []ConfigDef{
		{Name: "file", Type: TypeString, Required: true},
		{Name: "batch.size", Type: TypeInt, Default: "2000", Validate: AtLeast(1)},
		{Name: "flag", Type: TypeBoolean},
	}
	cfg, errs := resolve(defs, map[string]string{"file": "f", "extra": "kept"})
	if len(errs) != 0 || cfg.Int("batch.size") != 2000 || cfg.String("extra") != "kept" {
		t.Errorf("resolve = %v %v", cfg, errs)
	}
	_, errs = resolve(defs, map[string]string{"batch.size": "0", "flag": "yes"})
	var keys []string
	for _, e := range errs {
		keys = append(keys, e.Key)
	}
	if !reflect.DeepEqual(keys, []string{"batch.size", "file", "flag"}) {
		t.Errorf("error keys = %v (%v)", keys, errs)
	}
}

func TestOffsetsGetMatchesEncodedPartition(t *testing.T) {
	p := map[string]any{"filename": "in.txt", "b": 1}
	key, _ := encodeJSONMap(p)
	o := Offsets{string(key): {"position": 3.0}}
	if got := o.Get(map[string]any{"b": 1, "filename": "in.txt"}); got["position"] != 3.0 {
		t.Errorf("Get = %v", got)
	}
}

// The fast path must give exactly encoding/json's bytes.
func TestFlatJSONMatchesEncodingJSON(t *testing.T) {
	for _, m := range []map[string]any{
		{"position": int64(42)},
		{"filename": "/tmp/in.txt"},
		{"b": 1, "a": "x", "c": true, "d": int32(-7)},
		{"path": "a<b"},
		{"name": "caf\u00e9"},
		{"f": 1.5},
		{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5},
		{},
	} {
		got, err := encodeJSONMap(m)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(m)
		if string(got) != string(want) {
			t.Errorf("encodeJSONMap(%v) = %s, want %s", m, got, want)
		}
	}
}
