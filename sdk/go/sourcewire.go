package sdk

import (
	"fmt"
	"reflect"

	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/pbwire"
)

// sourceEncoder encodes a task's batches straight into SourceRunResponse
// wire bytes. Building protobuf messages first cost a source plugin two
// allocations per record and a second pass to size them; only structured
// values and schemas still go through protobuf messages. Its buffers are
// reused batch after batch.
type sourceEncoder struct {
	codec *schemaCodec
	rec   []byte // one record, copied into the batch behind its length
	field []byte // one offset or header, likewise
	// The batch's schema table: each distinct schema is listed once and
	// values refer to it by position (Data.schema).
	refs    map[*Schema]uint32
	schemas []*pb.Schema
}

func newSourceEncoder() *sourceEncoder {
	return &sourceEncoder{codec: newSchemaCodec(), refs: map[*Schema]uint32{}}
}

// encode appends records to b as one encoded SourceRunResponse.
func (e *sourceEncoder) encode(b []byte, records []SourceRecord) ([]byte, error) {
	clear(e.refs)
	e.schemas = e.schemas[:0]
	// Sources usually share one partition map across a batch's records:
	// encode it once. (Only within a batch: a task may change the map
	// between polls.)
	var lastPartition uintptr
	var partition []byte
	for i := range records {
		r := &records[i]
		if p := reflect.ValueOf(r.Partition).Pointer(); p == 0 || p != lastPartition {
			var err error
			if partition, err = encodeJSONMap(r.Partition); err != nil {
				return nil, fmt.Errorf("record %d partition: %w", i, err)
			}
			lastPartition = p
		}
		rec, err := e.appendRecord(e.rec[:0], r, partition)
		if err != nil {
			return nil, fmt.Errorf("record %d %w", i, err)
		}
		e.rec = rec
		b = pbwire.AppendTag(b, pbwire.SourceRunResponseRecords, protowire.BytesType)
		b = pbwire.AppendBytes(b, rec)
	}
	for _, ps := range e.schemas {
		b = pbwire.AppendTag(b, pbwire.SourceRunResponseSchemas, protowire.BytesType)
		b = pbwire.AppendMessage(b, ps)
	}
	return b, nil
}

// appendRecord appends r's fields; errors read after "record N".
func (e *sourceEncoder) appendRecord(b []byte, r *SourceRecord, partition []byte) ([]byte, error) {
	if len(partition) > 0 {
		b = pbwire.AppendTag(b, pbwire.SourceRecordPartition, protowire.BytesType)
		b = pbwire.AppendBytes(b, partition)
	}
	if r.Offset != nil {
		off, err := appendJSONMap(e.field[:0], r.Offset)
		if err != nil {
			return nil, fmt.Errorf("offset: %w", err)
		}
		e.field = off
		b = pbwire.AppendTag(b, pbwire.SourceRecordOffset, protowire.BytesType)
		b = pbwire.AppendBytes(b, off)
	}
	if r.Topic != "" {
		b = pbwire.AppendTag(b, pbwire.SourceRecordTopic, protowire.BytesType)
		b = pbwire.AppendString(b, r.Topic)
	}
	partitionNum := int32(-1) // the producer chooses
	if r.KafkaPartition != nil {
		partitionNum = *r.KafkaPartition
	}
	if partitionNum != 0 {
		b = pbwire.AppendTag(b, pbwire.SourceRecordKafkaPartition, protowire.VarintType)
		b = pbwire.AppendVarint(b, uint64(int64(partitionNum))) // int32: sign-extended
	}
	var err error
	if b, err = e.appendData(b, pbwire.SourceRecordKey, r.KeySchema, r.Key); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if b, err = e.appendData(b, pbwire.SourceRecordValue, r.ValueSchema, r.Value); err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	if !r.Timestamp.IsZero() {
		if ms := r.Timestamp.UnixMilli(); ms != 0 {
			b = pbwire.AppendTag(b, pbwire.SourceRecordTimestamp, protowire.VarintType)
			b = pbwire.AppendVarint(b, uint64(ms))
		}
	}
	for _, h := range r.Headers {
		hb := pbwire.AppendTag(e.field[:0], pbwire.HeaderKey, protowire.BytesType)
		hb = pbwire.AppendString(hb, h.Key)
		if hb, err = e.appendData(hb, pbwire.HeaderValue, h.Schema, h.Value); err != nil {
			return nil, fmt.Errorf("header %q: %w", h.Key, err)
		}
		e.field = hb
		b = pbwire.AppendTag(b, pbwire.SourceRecordHeaders, protowire.BytesType)
		b = pbwire.AppendBytes(b, hb)
	}
	return b, nil
}

// appendData appends a schema and value as field num, a Data message;
// both nil is a null without schema and appends nothing.
func (e *sourceEncoder) appendData(b []byte, num protowire.Number, s *Schema, v any) ([]byte, error) {
	if s == nil && v == nil {
		return b, nil
	}
	var ref uint32
	size := 0
	if s != nil {
		var ok bool
		if ref, ok = e.refs[s]; !ok {
			ps, err := e.codec.toProto(s)
			if err != nil {
				return nil, err
			}
			e.schemas = append(e.schemas, ps)
			ref = uint32(len(e.schemas))
			e.refs[s] = ref
		}
		size = 1 + protowire.SizeVarint(uint64(ref))
		if raw, ok := rawValue(s, v); ok {
			b = pbwire.AppendTag(b, num, protowire.BytesType)
			b = pbwire.AppendVarint(b, uint64(size+1+protowire.SizeBytes(len(raw))))
			b = appendSchemaRef(b, ref)
			b = pbwire.AppendTag(b, pbwire.DataRaw, protowire.BytesType)
			return pbwire.AppendBytes(b, raw), nil
		}
	}
	pv, err := e.codec.valueToProto(s, v)
	if err != nil {
		return nil, err
	}
	b = pbwire.AppendTag(b, num, protowire.BytesType)
	b = pbwire.AppendVarint(b, uint64(size+1+protowire.SizeBytes(pv.SizeVT())))
	b = appendSchemaRef(b, ref)
	b = pbwire.AppendTag(b, pbwire.DataValue, protowire.BytesType)
	return pbwire.AppendMessage(b, pv), nil
}

func appendSchemaRef(b []byte, ref uint32) []byte {
	if ref == 0 {
		return b
	}
	b = pbwire.AppendTag(b, pbwire.DataSchema, protowire.VarintType)
	return pbwire.AppendVarint(b, uint64(ref))
}
