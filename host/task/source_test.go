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
	f.sent = append(f.sent, kafka.Delivery{Topic: topic, Partition: partition})
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

// batchOf makes a batch of records sharing one string schema.
func batchOf(records ...*pb.SourceRecord) *pb.SourceRunResponse {
	return &pb.SourceRunResponse{Records: records, Schemas: []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_STRING}}}
}

// record makes a record of source partition for Kafka partition kp.
func record(partition, offset string, kp int32) *pb.SourceRecord {
	return &pb.SourceRecord{SourcePartition: []byte(partition), SourceOffset: []byte(offset), Topic: "t", KafkaPartition: kp,
		Value: &pb.Data{Schema: 1, Raw: []byte("v")}}
}

// An offset is committed only once its record and every earlier record of
// the same source partition are acknowledged. Reports come in order per
// Kafka partition, but a source partition's records may span several.
func TestSourceCommitsAckedPrefixOnly(t *testing.T) {
	conv, _ := convert.New("StringConverter", nil)
	prod := &fakeProducer{deliveries: make(chan []kafka.Delivery, 10)}
	store := memStore{}
	s := &Source{Connector: "c", Producer: prod, Offsets: store, Key: conv, Value: conv, Header: conv, Log: hclog.NewNullLogger(),
		pending: map[string]*partitionQueue{}, sent: map[topicPartition][]*submitted{}, topics: map[string]int32{}}
	const a, b = `{"f":"a"}`, `{"f":"b"}`
	batch := batchOf(record(a, "1", 0), record(b, "1", 1), record(a, "2", 1), record(a, "3", 0))
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
	s.produce(context.Background(), batchOf(record(a, "4", 0)))
	failed := prod.sent[4]
	failed.Err = errors.New("broker down")
	if err := s.delivered(failed); err == nil {
		t.Fatal("failed delivery did not fail the task")
	}
	if err := s.delivered(kafka.Delivery{Topic: "t", Partition: 1}); err == nil {
		t.Error("a report with nothing in flight was accepted")
	}
	s.commit(nil)
	if store[a] != "3" {
		t.Errorf("failed record's offset stored: %v", store)
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
		_, err := convertData(conv, "t", batchOf().Schemas, d)
		if err == nil || err.Error() != name {
			t.Errorf("%+v: error %v, want %q", d, err, name)
		}
	}
	if b, err := convertData(conv, "t", batchOf().Schemas, &pb.Data{Schema: 1, Raw: []byte("v")}); err != nil || string(b) != "v" {
		t.Errorf("good record: %q %v", b, err)
	}
}
