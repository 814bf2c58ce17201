package sdk

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// Field numbers of the messages decodeSinkRequest reads by hand; they are
// fixed by proto/ferry/plugin/v1 (field numbers never change in a
// published protocol).
const (
	sinkRunRequestPut = 2 // SinkRunRequest.put

	sinkPutRecords = 1 // SinkPut.records
	sinkPutSchemas = 2 // SinkPut.schemas

	sinkRecordTopic     = 1
	sinkRecordPartition = 2
	sinkRecordOffset    = 3
	sinkRecordKey       = 4
	sinkRecordValue     = 5
	sinkRecordTimestamp = 6
	sinkRecordHeaders   = 8

	dataSchema = 1
	dataValue  = 2
	dataRaw    = 3
)

// errWire is a malformed message from the host.
var errWire = errors.New("malformed protobuf")

// putBytes returns the SinkPut inside an encoded SinkRunRequest, if that
// is what it holds (a oneof: the last of its fields on the wire wins).
func putBytes(b []byte) (put []byte, ok bool, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false, errWire
		}
		b = b[n:]
		if num == sinkRunRequestPut && typ == protowire.BytesType {
			put, n = protowire.ConsumeBytes(b)
			ok = true
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
			ok = false
		}
		if n < 0 {
			return nil, false, errWire
		}
		b = b[n:]
	}
	return put, ok, nil
}

// decodePut decodes an encoded SinkPut straight into the task's records.
// A batch carries thousands of records: decoding each into protobuf
// messages first, then into SinkRecords, cost the plugin more than
// everything else it does with a record. Only structured values and
// headers still go through protobuf messages.
func decodePut(codec *schemaCodec, b []byte) ([]SinkRecord, error) {
	var records [][]byte
	var schemas []*pb.Schema
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errWire
		}
		b = b[n:]
		switch {
		case num == sinkPutRecords && typ == protowire.BytesType:
			var r []byte
			r, n = protowire.ConsumeBytes(b)
			records = append(records, r)
		case num == sinkPutSchemas && typ == protowire.BytesType:
			var s []byte
			if s, n = protowire.ConsumeBytes(b); n >= 0 {
				ps := &pb.Schema{}
				if err := ps.UnmarshalVTUnsafe(s); err != nil {
					return nil, fmt.Errorf("schema %d: %w", len(schemas)+1, err)
				}
				schemas = append(schemas, ps)
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, errWire
		}
		b = b[n:]
	}
	table, err := codec.fromTable(schemas)
	if err != nil {
		return nil, err
	}
	// A fresh slice per put: the task may keep the records.
	out := make([]SinkRecord, len(records))
	var topic string // records nearly always share one: one string for all
	for i, rb := range records {
		r := &out[i]
		if err := decodeSinkRecord(codec, table, rb, r, &topic); err != nil {
			return nil, fmt.Errorf("record %s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
	}
	return out, nil
}

// decodeSinkRecord decodes an encoded SinkRecord into r; topic is the
// previous record's topic, reused when this one's is the same.
func decodeSinkRecord(codec *schemaCodec, schemas []*Schema, b []byte, r *SinkRecord, topic *string) error {
	var key, value []byte // encoded Data; nil if absent
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		var v uint64
		var field []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			field, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errWire
		}
		b = b[n:]
		switch {
		case num == sinkRecordTopic && typ == protowire.BytesType:
			if string(field) != *topic {
				*topic = string(field)
			}
			r.Topic = *topic
		case num == sinkRecordPartition && typ == protowire.VarintType:
			r.Partition = int32(v)
		case num == sinkRecordOffset && typ == protowire.VarintType:
			r.Offset = int64(v)
		case num == sinkRecordKey && typ == protowire.BytesType:
			key = field
		case num == sinkRecordValue && typ == protowire.BytesType:
			value = field
		case num == sinkRecordTimestamp && typ == protowire.VarintType:
			if v != 0 {
				r.Timestamp = time.UnixMilli(int64(v)).UTC()
			}
		case num == sinkRecordHeaders && typ == protowire.BytesType:
			h := &pb.Header{}
			if err := h.UnmarshalVTUnsafe(field); err != nil {
				return fmt.Errorf("header: %w", err)
			}
			hs, hv, err := codec.fromData(schemas, h.Value)
			if err != nil {
				return fmt.Errorf("header %q: %w", h.Key, err)
			}
			r.Headers = append(r.Headers, Header{Key: h.Key, Schema: hs, Value: hv})
		}
	}
	var err error
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

// decodeData decodes an encoded Data; only structured values need a
// protobuf message.
func decodeData(codec *schemaCodec, schemas []*Schema, b []byte) (*Schema, any, error) {
	var d pb.Data
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, errWire
		}
		b = b[n:]
		switch {
		case num == dataSchema && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			d.Schema = uint32(v)
		case num == dataRaw && typ == protowire.BytesType:
			d.Raw, n = protowire.ConsumeBytes(b)
			if d.Raw == nil && n >= 0 {
				d.Raw = []byte{} // present but empty is not null
			}
		case num == dataValue && typ == protowire.BytesType:
			var field []byte
			if field, n = protowire.ConsumeBytes(b); n >= 0 {
				d.Value = &pb.Value{}
				if err := d.Value.UnmarshalVTUnsafe(field); err != nil {
					return nil, nil, err
				}
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, nil, errWire
		}
		b = b[n:]
	}
	return codec.fromData(schemas, &d)
}
