package task

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/convert"
	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/offsets"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// fakeProducer records where each record went; the test delivers by hand.
type fakeProducer struct {
	sent       []kafka.Delivery
	deliveries chan []kafka.Delivery
}

func (f *fakeProducer) Produce(topic string, partition int32, _, _ []byte, _ []kafka.Header, _ time.Time) error {
	f.sent = append(f.sent, kafka.Delivery{Topic: topic, Partition: partition, Count: 1})
	return nil
}
func (f *fakeProducer) Deliveries() <-chan []kafka.Delivery       { return f.deliveries }
func (f *fakeProducer) EnsureTopic(context.Context, string) error { return nil }
func (f *fakeProducer) Partitions(string) (int32, error)          { return 2, nil }

type memStore map[string]string

func (m memStore) Get(string) []offsets.Offset { return nil }
func (m memStore) Put(_ string, offs []offsets.Offset) error {
	for _, o := range offs {
		m[string(o.Partition)] = string(o.Offset)
	}
	return nil
}

// batchOf makes a batch of records sharing one string schema, as the loop
// receives it.
func batchOf(t *testing.T, records ...*pb.SourceRecord) *sourceBatch {
	t.Helper()
	return decodeBatch(t, &pb.SourceRunResponse{Records: records, Schemas: []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_STRING}}})
}

func decodeBatch(t *testing.T, msg *pb.SourceRunResponse) *sourceBatch {
	t.Helper()
	b, err := msg.MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	var batch sourceBatch
	if err := batch.decode(b); err != nil {
		t.Fatal(err)
	}
	return &batch
}

// record makes a record of source partition for Kafka partition kp.
func record(partition, offset string, kp int32) *pb.SourceRecord {
	return &pb.SourceRecord{SourcePartition: []byte(partition), SourceOffset: []byte(offset), Topic: "t", KafkaPartition: kp,
		Value: &pb.Data{Schema: 1, Raw: []byte("v")}}
}

// newTestSource makes a source task with String converters whose producer
// and offset store the test drives by hand.
func newTestSource() (*Source, *fakeProducer, memStore) {
	conv, _ := convert.New("StringConverter", nil)
	prod := &fakeProducer{deliveries: make(chan []kafka.Delivery, 10)}
	store := memStore{}
	s := &Source{Connector: "c", Producer: prod, Offsets: store, Key: conv, Value: conv, Header: conv, Log: hclog.NewNullLogger(),
		pending: map[string]*partitionQueue{}, topics: map[string]*topicState{}}
	return s, prod, store
}

// An offset is committed only once its record and every earlier record of
// the same source partition are acknowledged. Reports come in order per
// Kafka partition, but a source partition's records may span several.
func TestSourceCommitsAckedPrefixOnly(t *testing.T) {
	s, prod, store := newTestSource()
	const a, b = `{"f":"a"}`, `{"f":"b"}`
	batch := batchOf(t, record(a, "1", 0), record(b, "1", 1), record(a, "2", 1), record(a, "3", 0))
	if err := s.produce(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	ack := func(i int) {
		if err := s.delivered(prod.sent[i]); err != nil {
			t.Fatal(err)
		}
	}
	ack(1) // b:1 (first on partition 1)
	ack(2) // a:2 before a:1: nothing of a is committable yet
	s.commit(nil)
	if store[a] != "" || store[b] != "1" {
		t.Fatalf("after acks a:2, b:1 stored %v", store)
	}
	ack(0) // a:1 completes the prefix a:1, a:2 (first on partition 0)
	s.commit(nil)
	if store[a] != "2" {
		t.Fatalf("after ack a:1 stored a=%q, want 2", store[a])
	}
	ack(3)
	s.commit(nil)
	if store[a] != "3" || s.inFlight != 0 || len(s.pending) != 0 {
		t.Fatalf("after all acks stored %v, in flight %d, pending %d", store, s.inFlight, len(s.pending))
	}

	// A failed delivery fails the task and its offset is never stored.
	s.produce(context.Background(), batchOf(t, record(a, "4", 0)))
	failed := prod.sent[4]
	failed.Err = errors.New("broker down")
	if err := s.delivered(failed); err == nil {
		t.Fatal("failed delivery did not fail the task")
	}
	if err := s.delivered(kafka.Delivery{Topic: "t", Partition: 1, Count: 1}); err == nil {
		t.Error("a report with nothing in flight was accepted")
	}
	s.commit(nil)
	if store[a] != "3" {
		t.Errorf("failed record's offset stored: %v", store)
	}
}

// One report covers a run of a partition's records, which may belong to
// several source partitions; it may not cover more than are in flight.
func TestSourceReportForManyRecords(t *testing.T) {
	s, _, store := newTestSource()
	const a, b = `{"f":"a"}`, `{"f":"b"}`
	batch := batchOf(t, record(a, "1", 0), record(b, "1", 0), record(a, "2", 0), record(b, "2", 1))
	if err := s.produce(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := s.delivered(kafka.Delivery{Topic: "t", Partition: 0, Count: 4}); err == nil {
		t.Fatal("a report for 4 records of a partition with 3 in flight was accepted")
	}
	if err := s.delivered(kafka.Delivery{Topic: "t", Partition: 0, Count: 3}); err != nil {
		t.Fatal(err)
	}
	s.commit(nil)
	if store[a] != "2" || store[b] != "1" || s.inFlight != 1 {
		t.Errorf("stored %v with %d in flight, want a=2 b=1 and 1", store, s.inFlight)
	}
}

// A value's schema reference must name a schema of its batch, and a raw
// value needs a STRING or BYTES schema: anything else fails the record with
// a clear error instead of a panic.
func TestSourceRejectsBadSchemaReferences(t *testing.T) {
	conv, _ := convert.New("StringConverter", nil)
	for name, d := range map[string]*pb.Data{
		"schema 2 of a batch with 1":               {Schema: 2, Raw: []byte("v")},
		"raw value needs a STRING or BYTES schema": {Raw: []byte("v")},
	} {
		_, err := convertData(conv, "t", batchOf(t).schemas, d)
		if err == nil || err.Error() != name {
			t.Errorf("%+v: error %v, want %q", d, err, name)
		}
	}
	if b, err := convertData(conv, "t", batchOf(t).schemas, &pb.Data{Schema: 1, Raw: []byte("v")}); err != nil || string(b) != "v" {
		t.Errorf("good record: %q %v", b, err)
	}
}

// A batch's buffer is reused once it is produced: the offsets and source
// partitions kept for commits must not share it.
func TestSourceOffsetsOutliveTheirBatch(t *testing.T) {
	s, prod, store := newTestSource()
	const a = `{"f":"a"}`
	b, _ := (&pb.SourceRunResponse{Records: []*pb.SourceRecord{record(a, "1", 0), record(a, "2", 0)},
		Schemas: []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_STRING}}}).MarshalVT()
	var batch sourceBatch
	if err := batch.decode(b); err != nil {
		t.Fatal(err)
	}
	if err := s.produce(context.Background(), &batch); err != nil {
		t.Fatal(err)
	}
	clear(b) // the next message received into the buffer
	for _, d := range prod.sent {
		if err := s.delivered(d); err != nil {
			t.Fatal(err)
		}
	}
	s.commit(nil)
	if store[a] != "2" {
		t.Errorf("stored %q, want offset 2 of partition %s", store, a)
	}
}

// A batch decodes into the same sourceBatch every time: nothing of an
// earlier batch may show through.
func TestSourceBatchDecode(t *testing.T) {
	full := &pb.SourceRunResponse{
		Schemas: []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_STRING}, {Type: pb.SchemaType_SCHEMA_TYPE_INT64, Optional: true}},
		Records: []*pb.SourceRecord{
			{SourcePartition: []byte(`{"f":"a"}`), SourceOffset: []byte(`{"p":1}`), Topic: "a", KafkaPartition: -1,
				Key: &pb.Data{Schema: 1, Raw: []byte{}}, Value: &pb.Data{Schema: 2, Value: &pb.Value{Kind: &pb.Value_IntValue{IntValue: 7}}},
				TimestampMs: 1700000000123, Headers: []*pb.Header{{Key: "h", Value: &pb.Data{Schema: 1, Raw: []byte("v")}}}},
			{Topic: "b", KafkaPartition: 3},
		},
	}
	batch := decodeBatch(t, full)
	if len(batch.records) != 2 || len(batch.schemas) != 2 || batch.schemas[1].Type != pb.SchemaType_SCHEMA_TYPE_INT64 {
		t.Fatalf("decoded %d records, schemas %v", len(batch.records), batch.schemas)
	}
	r := &batch.records[0]
	if string(r.partition) != `{"f":"a"}` || string(r.offset) != `{"p":1}` || r.topic != "a" || r.kafkaPartition != -1 ||
		r.timestampMs != 1700000000123 || len(r.headers) != 1 || string(r.headers[0].Value.Raw) != "v" {
		t.Errorf("record 0 = %+v", r)
	}
	if k := r.keyData(); k == nil || k.Schema != 1 || k.Raw == nil || len(k.Raw) != 0 {
		t.Errorf("empty key = %v, want present and empty", k)
	}
	if v := r.valueData(); v == nil || v.Value.GetIntValue() != 7 {
		t.Errorf("value = %v", v)
	}
	if r := &batch.records[1]; r.topic != "b" || r.kafkaPartition != 3 || r.keyData() != nil || r.valueData() != nil {
		t.Errorf("record 1 = %+v", r)
	}

	// Decoded again into the same batch, a smaller batch leaves nothing of
	// the first behind.
	b, _ := (&pb.SourceRunResponse{Records: []*pb.SourceRecord{{Topic: "c"}}}).MarshalVT()
	if err := batch.decode(b); err != nil {
		t.Fatal(err)
	}
	if r := &batch.records[0]; len(batch.records) != 1 || len(batch.schemas) != 0 || r.topic != "c" || r.partition != nil ||
		r.offset != nil || r.kafkaPartition != 0 || r.keyData() != nil || r.valueData() != nil || r.timestampMs != 0 || r.headers != nil {
		t.Errorf("second batch = %+v, schemas %v", batch.records, batch.schemas)
	}

	good, _ := full.MarshalVT()
	if err := batch.decode(good[:len(good)-1]); err == nil {
		t.Error("a truncated batch decoded")
	}
}
