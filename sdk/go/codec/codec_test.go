package codec

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// Both paths must produce standard protobuf, and a decoded message must
// not share memory with gRPC's buffers, which are recycled after Unmarshal.
func TestCodecRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("v"), 64<<10) // above gRPC's pooling threshold
	for name, msg := range map[string]proto.Message{
		"vtprotobuf small": &pb.SourceRecord{Topic: "t", SourceOffset: []byte(`{"n":1}`), Value: &pb.Data{Schema: 1, Raw: []byte("x")}},
		"vtprotobuf big":   &pb.SourceRunResponse{Records: []*pb.SourceRecord{{Topic: "t", Value: &pb.Data{Raw: big}}}},
		"fallback":         wrapperspb.String("go-plugin's own messages"),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := Codec{}.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			wire := out.Materialize()
			if std, _ := proto.Marshal(msg); !bytes.Equal(wire, std) {
				t.Fatalf("wire bytes differ from proto.Marshal's")
			}
			in := mem.BufferSlice{mem.SliceBuffer(append([]byte(nil), wire...))}
			got := msg.ProtoReflect().New().Interface()
			if err := (Codec{}).Unmarshal(in, got); err != nil {
				t.Fatal(err)
			}
			clear(in[0].ReadOnlyData()) // what recycling would do
			if !proto.Equal(got, msg) {
				t.Errorf("decoded %v", got)
			}
			out.Free()
		})
	}
}

// Raw keeps a message encoded, in a copy of its own.
func TestCodecRaw(t *testing.T) {
	wire := []byte{0x0a, 0x01, 't'}
	in := mem.BufferSlice{mem.SliceBuffer(append([]byte(nil), wire...))}
	var raw Raw
	if err := (Codec{}).Unmarshal(in, &raw); err != nil {
		t.Fatal(err)
	}
	clear(in[0].ReadOnlyData())
	if !bytes.Equal(raw, wire) {
		t.Errorf("raw = %x, want %x", []byte(raw), wire)
	}

	// A buffer with room is reused; one without is replaced.
	mine := make(Raw, 0, 16)
	array := &mine[:1][0]
	in = mem.BufferSlice{mem.SliceBuffer(append([]byte(nil), wire...))}
	if err := (Codec{}).Unmarshal(in, &mine); err != nil || !bytes.Equal(mine, wire) || &mine[0] != array {
		t.Errorf("into a buffer with room: %x %v", []byte(mine), err)
	}
	small := make(Raw, 0, 1)
	in = mem.BufferSlice{mem.SliceBuffer(append([]byte(nil), wire...))}
	if err := (Codec{}).Unmarshal(in, &small); err != nil || !bytes.Equal(small, wire) {
		t.Errorf("into a small buffer: %x %v", []byte(small), err)
	}
}

// An Encoded message goes out as it is, and its buffer comes back to its
// pool once gRPC is done with it.
func TestCodecEncoded(t *testing.T) {
	pool := &Pool{}
	buf := pool.Get(64 << 10) // above gRPC's pooling threshold
	copy(*buf, "message")
	out, err := Codec{}.Marshal(Encoded{Buf: buf, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Materialize(); !bytes.HasPrefix(got, []byte("message")) || len(got) != 64<<10 {
		t.Errorf("sent %q... (%d bytes)", got[:7], len(got))
	}
	if again := pool.Get(10); again == buf {
		t.Error("a buffer gRPC still holds was handed out again")
	}
	out.Free()
	if again := pool.Get(10); again != buf || len(*again) != 10 {
		t.Error("the buffer did not come back to its pool")
	}
}
