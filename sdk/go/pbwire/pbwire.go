// Package pbwire reads and writes the hot messages of ferry.plugin.v1 by
// hand: record batches, which the Go host and SDK encode and decode
// straight from and into their own record types instead of through
// generated protobuf messages (an allocation or two per record). The
// bytes are plain protobuf either way.
package pbwire

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the messages read or written by hand; they are fixed
// by proto/ferry/plugin/v1 (field numbers never change in a published
// protocol).
const (
	SourceRunResponseRecords = 1
	SourceRunResponseSchemas = 2

	SourceRecordPartition      = 1
	SourceRecordOffset         = 2
	SourceRecordTopic          = 3
	SourceRecordKafkaPartition = 4
	SourceRecordKey            = 5
	SourceRecordValue          = 6
	SourceRecordTimestamp      = 7
	SourceRecordHeaders        = 8

	SinkRunRequestPut = 2

	SinkPutRecords = 1
	SinkPutSchemas = 2

	SinkRecordTopic     = 1
	SinkRecordPartition = 2
	SinkRecordOffset    = 3
	SinkRecordKey       = 4
	SinkRecordValue     = 5
	SinkRecordTimestamp = 6
	SinkRecordHeaders   = 8

	HeaderKey   = 1
	HeaderValue = 2

	DataSchema = 1
	DataValue  = 2
	DataRaw    = 3
)

// ErrMalformed is a message that is not valid protobuf.
var ErrMalformed = errors.New("malformed protobuf")

// Field is one field of an encoded message.
type Field struct {
	Num  protowire.Number
	Type protowire.Type
	// Varint is a varint field's value; Bytes a length-delimited field's
	// contents, sharing the message's memory.
	Varint uint64
	Bytes  []byte
}

// IsVarint reports whether f is varint field num.
func (f *Field) IsVarint(num protowire.Number) bool {
	return f.Num == num && f.Type == protowire.VarintType
}

// IsBytes reports whether f is length-delimited field num.
func (f *Field) IsBytes(num protowire.Number) bool {
	return f.Num == num && f.Type == protowire.BytesType
}

// Reader reads an encoded message field by field:
//
//	r := pbwire.NewReader(b)
//	for r.Next() {
//		switch f := &r.Field; { ... }
//	}
//	if err := r.Err(); err != nil { ... }
type Reader struct {
	// Field is the field read by the last Next. Fields of other wire types
	// than varint and bytes come with neither Varint nor Bytes set.
	Field Field
	b     []byte
	err   error
}

// NewReader returns a Reader of the encoded message b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Next reads the next field; it returns false at the end of the message
// or on an error.
func (r *Reader) Next() bool {
	if len(r.b) == 0 || r.err != nil {
		return false
	}
	b := r.b
	f := &r.Field
	// One-byte tags and lengths, which are nearly all of them, without a
	// call: this runs for every field of every record.
	var n int
	if b[0] < 0x80 {
		f.Num, f.Type, n = protowire.Number(b[0]>>3), protowire.Type(b[0]&7), 1
	} else {
		f.Num, f.Type, n = protowire.ConsumeTag(b)
	}
	if n < 0 || f.Num < protowire.MinValidNumber {
		return r.fail()
	}
	b = b[n:]
	f.Varint, f.Bytes = 0, nil
	switch f.Type {
	case protowire.VarintType:
		f.Varint, n = protowire.ConsumeVarint(b)
	case protowire.BytesType:
		if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
			f.Bytes, n = b[1:1+b[0]:1+b[0]], 1+int(b[0])
		} else {
			f.Bytes, n = protowire.ConsumeBytes(b)
		}
	default:
		n = protowire.ConsumeFieldValue(f.Num, f.Type, b)
	}
	if n < 0 {
		return r.fail()
	}
	r.b = b[n:]
	return true
}

func (r *Reader) fail() bool {
	r.err = ErrMalformed
	return false
}

// Err is the error that ended Next, if any.
func (r *Reader) Err() error { return r.err }

// AppendVarint is protowire.AppendVarint with the one-byte case inlined:
// tags and most lengths of a record are one byte.
func AppendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// AppendTag appends a field's tag.
func AppendTag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return AppendVarint(b, protowire.EncodeTag(num, typ))
}

// AppendBytes appends a length-delimited field's length and contents.
func AppendBytes(b, v []byte) []byte { return append(AppendVarint(b, uint64(len(v))), v...) }

// AppendString appends a string field's length and contents.
func AppendString(b []byte, v string) []byte { return append(AppendVarint(b, uint64(len(v))), v...) }

// SizedMessage is a message generated with vtprotobuf.
type SizedMessage interface {
	SizeVT() int
	MarshalToSizedBufferVT(dAtA []byte) (int, error)
}

// AppendMessage appends m's length and encoding to b.
func AppendMessage(b []byte, m SizedMessage) []byte {
	n := m.SizeVT()
	b = AppendVarint(b, uint64(n))
	b = append(b, make([]byte, n)...)
	// Generated messages always fit the size they report.
	_, _ = m.MarshalToSizedBufferVT(b[len(b)-n:])
	return b
}
