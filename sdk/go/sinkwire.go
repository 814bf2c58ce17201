package sdk

import (
	"fmt"
	"time"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/pbwire"
)

// putBytes returns the SinkPut inside an encoded SinkRunRequest, if that
// is what it holds (a oneof: the last of its fields on the wire wins).
func putBytes(b []byte) ([]byte, bool, error) {
	var put []byte
	var ok bool
	rd := pbwire.NewReader(b)
	for rd.Next() {
		ok = rd.Field.IsBytes(pbwire.SinkRunRequestPut)
		put = rd.Field.Bytes
	}
	return put, ok, rd.Err()
}

// decodePut decodes an encoded SinkPut straight into the task's records.
// A batch carries thousands of records: decoding each into protobuf
// messages first, then into SinkRecords, cost the plugin more than
// everything else it does with a record. Only structured values and
// headers still go through protobuf messages.
func decodePut(codec *schemaCodec, b []byte, reuse []SinkRecord) ([]SinkRecord, error) {
	// Records refer to the schema table, which may come after them: a
	// first pass reads the table and counts the records, a second decodes
	// them (collecting the records' bytes instead cost a growing slice per put).
	var schemas []*pb.Schema
	n := 0
	rd := pbwire.NewReader(b)
	for rd.Next() {
		switch f := &rd.Field; {
		case f.IsBytes(pbwire.SinkPutRecords):
			n++
		case f.IsBytes(pbwire.SinkPutSchemas):
			ps := &pb.Schema{}
			if err := ps.UnmarshalVTUnsafe(f.Bytes); err != nil {
				return nil, fmt.Errorf("schema %d: %w", len(schemas)+1, err)
			}
			schemas = append(schemas, ps)
		}
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	table, err := codec.fromTable(schemas)
	if err != nil {
		return nil, err
	}
	// A fresh slice per put unless the task lets its records be reused
	// (then reuse holds the previous put's).
	out := reuse[:0]
	if cap(out) >= n {
		out = out[:n]
		clear(out)
	} else {
		out = make([]SinkRecord, n)
	}
	var topic string // records nearly always share one: one string for all
	i := 0
	rd = pbwire.NewReader(b)
	for rd.Next() {
		if f := &rd.Field; f.IsBytes(pbwire.SinkPutRecords) {
			r := &out[i]
			if err := decodeSinkRecord(codec, table, f.Bytes, r, &topic); err != nil {
				return nil, fmt.Errorf("record %s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			i++
		}
	}
	return out, nil
}

// decodeSinkRecord decodes an encoded SinkRecord into r; topic is the
// previous record's topic, reused when this one's is the same.
func decodeSinkRecord(codec *schemaCodec, schemas []*Schema, b []byte, r *SinkRecord, topic *string) error {
	var key, value []byte // encoded Data; nil if absent
	rd := pbwire.NewReader(b)
	for rd.Next() {
		switch f := &rd.Field; {
		case f.IsBytes(pbwire.SinkRecordTopic):
			if string(f.Bytes) != *topic {
				*topic = string(f.Bytes)
			}
			r.Topic = *topic
		case f.IsVarint(pbwire.SinkRecordPartition):
			r.Partition = int32(f.Varint)
		case f.IsVarint(pbwire.SinkRecordOffset):
			r.Offset = int64(f.Varint)
		case f.IsBytes(pbwire.SinkRecordKey):
			key = f.Bytes
		case f.IsBytes(pbwire.SinkRecordValue):
			value = f.Bytes
		case f.IsVarint(pbwire.SinkRecordTimestamp):
			if f.Varint != 0 {
				r.Timestamp = time.UnixMilli(int64(f.Varint)).UTC()
			}
		case f.IsBytes(pbwire.SinkRecordHeaders):
			h := &pb.Header{}
			if err := h.UnmarshalVTUnsafe(f.Bytes); err != nil {
				return fmt.Errorf("header: %w", err)
			}
			hs, hv, err := codec.fromData(schemas, h.Value)
			if err != nil {
				return fmt.Errorf("header %q: %w", h.Key, err)
			}
			r.Headers = append(r.Headers, Header{Key: h.Key, Schema: hs, Value: hv})
		}
	}
	err := rd.Err()
	if err != nil {
		return err
	}
	if key != nil {
		if r.KeySchema, r.Key, err = decodeData(codec, schemas, key); err != nil {
			return fmt.Errorf("key: %w", err)
		}
	}
	if value != nil {
		if r.ValueSchema, r.Value, err = decodeData(codec, schemas, value); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	}
	return nil
}

// decodeData decodes an encoded Data.
func decodeData(codec *schemaCodec, schemas []*Schema, b []byte) (*Schema, any, error) {
	var d pb.Data
	if err := d.UnmarshalVTUnsafe(b); err != nil {
		return nil, nil, err
	}
	return codec.fromData(schemas, &d)
}
