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

// fakeProducer records what was produced; the test delivers by hand.
type fakeProducer struct {
	opaques    []any
	deliveries chan kafka.Delivery
}

func (f *fakeProducer) Produce(_ string, _ int32, _, _ []byte, _ []kafka.Header, _ time.Time, opaque any) error {
	f.opaques = append(f.opaques, opaque)
	return nil
}
func (f *fakeProducer) Deliveries() <-chan kafka.Delivery         { return f.deliveries }
func (f *fakeProducer) EnsureTopic(context.Context, string) error { return nil }

type memStore map[string]string

func (m memStore) Get(string) []offsets.Offset { return nil }
func (m memStore) Put(_ string, offs []offsets.Offset) error {
	for _, o := range offs {
		m[string(o.Partition)] = string(o.Offset)
	}
	return nil
}

func record(partition, offset string) *pb.SourceRecord {
	return &pb.SourceRecord{SourcePartition: []byte(partition), SourceOffset: []byte(offset), Topic: "t", KafkaPartition: -1,
		Value: &pb.Data{Schema: &pb.Schema{Type: pb.SchemaType_SCHEMA_TYPE_STRING}, Value: &pb.Value{Kind: &pb.Value_StringValue{StringValue: "v"}}}}
}

// An offset is committed only once its record and every earlier record of
// the same source partition are acknowledged, whatever order acks come in.
func TestSourceCommitsAckedPrefixOnly(t *testing.T) {
	conv, _ := convert.New("StringConverter", nil)
	prod := &fakeProducer{deliveries: make(chan kafka.Delivery, 10)}
	store := memStore{}
	s := &Source{Connector: "c", Producer: prod, Offsets: store, Key: conv, Value: conv, Header: conv, Log: hclog.NewNullLogger(),
		pending: map[string]*partitionQueue{}, topics: map[string]bool{}}
	const a, b = `{"f":"a"}`, `{"f":"b"}`
	if err := s.produce(context.Background(), []*pb.SourceRecord{record(a, "1"), record(b, "1"), record(a, "2"), record(a, "3")}); err != nil {
		t.Fatal(err)
	}
	ack := func(i int) {
		if err := s.delivered(kafka.Delivery{Opaque: prod.opaques[i]}); err != nil {
			t.Fatal(err)
		}
	}
	ack(2) // a:2 before a:1: nothing of a is committable yet
	ack(1) // b:1
	s.commit(nil)
	if store[a] != "" || store[b] != "1" {
		t.Fatalf("after acks a:2, b:1 stored %v", store)
	}
	ack(0) // a:1 completes the prefix a:1, a:2
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
	s.produce(context.Background(), []*pb.SourceRecord{record(a, "4")})
	if err := s.delivered(kafka.Delivery{Opaque: prod.opaques[4], Err: errors.New("broker down")}); err == nil {
		t.Fatal("failed delivery did not fail the task")
	}
	s.commit(nil)
	if store[a] != "3" {
		t.Errorf("failed record's offset stored: %v", store)
	}
}
