package task

import (
	"fmt"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/pbwire"
)

// sourceBatch is one decoded SourceRunResponse. A task decodes every batch
// into the same one: decoding into fresh protobuf messages cost two
// allocations per record. Bytes and strings alias the received message:
// what must outlive it is copied.
type sourceBatch struct {
	records []sourceRecord
	schemas []*pb.Schema
}

// sourceRecord is a decoded pb.SourceRecord, its key and value held in
// place.
type sourceRecord struct {
	partition, offset []byte
	topic             string
	kafkaPartition    int32 // -1: the producer chooses
	key, value        pb.Data
	hasKey, hasValue  bool
	timestampMs       int64
	headers           []*pb.Header
}

// keyData is the record's key, nil for a null without schema.
func (r *sourceRecord) keyData() *pb.Data {
	if !r.hasKey {
		return nil
	}
	return &r.key
}

// valueData is the record's value, nil for a null without schema.
func (r *sourceRecord) valueData() *pb.Data {
	if !r.hasValue {
		return nil
	}
	return &r.value
}

// decode replaces the batch's contents with the encoded SourceRunResponse b.
func (sb *sourceBatch) decode(b []byte) error {
	sb.records = sb.records[:0]
	sb.schemas = sb.schemas[:0]
	var topic string // records nearly always share one: one string for all
	rd := pbwire.NewReader(b)
	for rd.Next() {
		switch f := &rd.Field; {
		case f.IsBytes(pbwire.SourceRunResponseRecords):
			sb.records = append(sb.records, sourceRecord{})
			if err := decodeSourceRecord(f.Bytes, &sb.records[len(sb.records)-1], &topic); err != nil {
				return fmt.Errorf("record %d: %w", len(sb.records)-1, err)
			}
		case f.IsBytes(pbwire.SourceRunResponseSchemas):
			s := &pb.Schema{}
			if err := s.UnmarshalVTUnsafe(f.Bytes); err != nil {
				return fmt.Errorf("schema %d: %w", len(sb.schemas)+1, err)
			}
			sb.schemas = append(sb.schemas, s)
		}
	}
	return rd.Err()
}

// decodeSourceRecord decodes an encoded SourceRecord into the zero record
// r; topic is the previous record's topic, reused when this one's is the
// same.
func decodeSourceRecord(b []byte, r *sourceRecord, topic *string) error {
	rd := pbwire.NewReader(b)
	for rd.Next() {
		var err error
		switch f := &rd.Field; {
		case f.IsBytes(pbwire.SourceRecordPartition):
			r.partition = f.Bytes
		case f.IsBytes(pbwire.SourceRecordOffset):
			r.offset = f.Bytes
		case f.IsBytes(pbwire.SourceRecordTopic):
			if string(f.Bytes) != *topic {
				*topic = string(f.Bytes)
			}
			r.topic = *topic
		case f.IsVarint(pbwire.SourceRecordKafkaPartition):
			r.kafkaPartition = int32(f.Varint)
		case f.IsBytes(pbwire.SourceRecordKey):
			r.key.Reset()
			r.hasKey = true
			err = r.key.UnmarshalVTUnsafe(f.Bytes)
		case f.IsBytes(pbwire.SourceRecordValue):
			r.value.Reset()
			r.hasValue = true
			err = r.value.UnmarshalVTUnsafe(f.Bytes)
		case f.IsVarint(pbwire.SourceRecordTimestamp):
			r.timestampMs = int64(f.Varint)
		case f.IsBytes(pbwire.SourceRecordHeaders):
			h := &pb.Header{}
			err = h.UnmarshalVTUnsafe(f.Bytes)
			r.headers = append(r.headers, h)
		}
		if err != nil {
			return err
		}
	}
	return rd.Err()
}
