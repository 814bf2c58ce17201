package pbwire

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

func TestReader(t *testing.T) {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 300)
	b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 9)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("xy"))

	var got []Field
	r := NewReader(b)
	for r.Next() {
		got = append(got, r.Field)
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	if len(got) != 3 || !got[0].IsVarint(1) || got[0].Varint != 300 || got[0].IsBytes(1) ||
		got[1].Num != 7 || got[1].Bytes != nil || !got[2].IsBytes(2) || string(got[2].Bytes) != "xy" {
		t.Errorf("fields = %+v", got)
	}
	for _, bad := range [][]byte{b[:len(b)-1], {0x80}} { // truncated bytes, truncated tag
		r := NewReader(bad)
		for r.Next() {
		}
		if err := r.Err(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: error %v", bad, err)
		}
	}
}

func TestAppendMessage(t *testing.T) {
	m := &pb.Data{Schema: 2, Raw: []byte("value")}
	b := AppendMessage([]byte("prefix"), m)
	body, n := protowire.ConsumeBytes(b[len("prefix"):])
	want, _ := m.MarshalVT()
	if !bytes.HasPrefix(b, []byte("prefix")) || n != len(b)-len("prefix") || !bytes.Equal(body, want) {
		t.Errorf("appended %x, want prefix and %x", b, want)
	}
}
