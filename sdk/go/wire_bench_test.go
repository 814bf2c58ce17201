package sdk

import (
	"testing"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// The SDK's two hot paths, per batch of 2000 records of 100 B as the file
// connectors send them (go test -bench . ./sdk/go; make bench measures the
// whole pipeline).

func BenchmarkSourceEncode(b *testing.B) {
	partition := map[string]any{"filename": "/tmp/in.txt"}
	records := make([]SourceRecord, 2000)
	line := string(make([]byte, 100))
	for i := range records {
		records[i] = SourceRecord{Partition: partition, Offset: map[string]any{"position": int64(i * 101)},
			Topic: "bench-topic", ValueSchema: StringSchema, Value: line}
	}
	enc := newSourceEncoder()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = enc.encode(buf[:0], records); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePut(b *testing.B) {
	put := &pb.SinkPut{Schemas: []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_STRING}}}
	for i := range 2000 {
		put.Records = append(put.Records, &pb.SinkRecord{Topic: "bench-topic", KafkaPartition: 1, KafkaOffset: int64(i),
			TimestampMs: 1700000000000, Value: &pb.Data{Schema: 1, Raw: make([]byte, 100)}})
	}
	raw, err := put.MarshalVT()
	if err != nil {
		b.Fatal(err)
	}
	codec := newSchemaCodec()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePut(codec, raw, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePutBytesKeyReused decodes puts as ByteArrayConverter
// makes them (a null BYTES key, a BYTES value) into reused records, as
// BenchSink and FileStreamSink get them.
func BenchmarkDecodePutBytesKeyReused(b *testing.B) {
	put := &pb.SinkPut{Schemas: []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_BYTES, Optional: true}}}
	for i := range 2000 {
		put.Records = append(put.Records, &pb.SinkRecord{Topic: "bench-topic", KafkaPartition: 1, KafkaOffset: int64(i),
			TimestampMs: 1700000000000, Key: &pb.Data{Schema: 1}, Value: &pb.Data{Schema: 1, Raw: make([]byte, 100)}})
	}
	raw, err := put.MarshalVT()
	if err != nil {
		b.Fatal(err)
	}
	codec := newSchemaCodec()
	var recs []SinkRecord
	b.ReportAllocs()
	for b.Loop() {
		if recs, err = decodePut(codec, raw, recs); err != nil {
			b.Fatal(err)
		}
	}
}
