// Package pbwire reads and writes the hot messages of ferry.plugin.v1 by
// hand: record batches, which the Go host and SDK encode and decode
// straight from and into their own record types instead of through
// generated protobuf messages (an allocation or two per record). The
// bytes are plain protobuf either way.
package pbwire

import (
	"errors"
	"iter"

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

// Fields yields the fields of the encoded message b in order. Fields of
// other wire types than varint and bytes come with neither Varint nor
// Bytes set; a malformed message ends with ErrMalformed.
func Fields(b []byte) iter.Seq2[Field, error] {
	return func(yield func(Field, error) bool) {
		for len(b) > 0 {
			f, rest, err := next(b)
			if !yield(f, err) || err != nil {
				return
			}
			b = rest
		}
	}
}

// next reads the first field of b and returns the rest.
func next(b []byte) (Field, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return Field{}, nil, ErrMalformed
	}
	b = b[n:]
	f := Field{Num: num, Type: typ}
	switch typ {
	case protowire.VarintType:
		f.Varint, n = protowire.ConsumeVarint(b)
	case protowire.BytesType:
		f.Bytes, n = protowire.ConsumeBytes(b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		return Field{}, nil, ErrMalformed
	}
	return f, b[n:], nil
}

// SizedMessage is a message generated with vtprotobuf.
type SizedMessage interface {
	SizeVT() int
	MarshalToSizedBufferVT(dAtA []byte) (int, error)
}

// AppendMessage appends m's length and encoding to b.
func AppendMessage(b []byte, m SizedMessage) []byte {
	n := m.SizeVT()
	b = protowire.AppendVarint(b, uint64(n))
	b = append(b, make([]byte, n)...)
	// Generated messages always fit the size they report.
	_, _ = m.MarshalToSizedBufferVT(b[len(b)-n:])
	return b
}
