// Package codec is the gRPC codec of Ferry's Go host, plugins and CLI.
// Messages generated with vtprotobuf marshal and unmarshal without reflection, and an
// unmarshalled message's bytes and strings alias one private copy of the
// received message instead of costing an allocation each: a batch of
// thousands of records decodes in a handful of allocations per record.
// Other messages (go-plugin's own services, gRPC health) go through gRPC's
// standard protobuf codec. The wire format is plain protobuf either way, so
// a peer written in another language never knows.
package codec

import (
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the fallback codec
	"google.golang.org/grpc/mem"

	"github.com/ferry-connect/ferry/sdk/go/pbwire"
)

// vtMessage is what protoc-gen-go-vtproto generates (features marshal,
// unmarshal_unsafe and size).
type vtMessage interface {
	pbwire.SizedMessage
	UnmarshalVTUnsafe(dAtA []byte) error
}

// Codec implements encoding.CodecV2 under gRPC's own name for protobuf, so
// the content type on the wire stays application/grpc+proto.
type Codec struct{}

// fallback is gRPC's standard protobuf codec.
func fallback() encoding.CodecV2 { return encoding.GetCodecV2("proto") }

// Marshal encodes v into a pooled buffer that gRPC frees once written. An
// Encoded message is sent as it is.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(Encoded); ok {
		return mem.BufferSlice{mem.NewBuffer(e.Buf, e.Pool)}, nil
	}
	m, ok := v.(vtMessage)
	if !ok {
		return fallback().Marshal(v)
	}
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf := make([]byte, size)
		if _, err := m.MarshalToSizedBufferVT(buf); err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if _, err := m.MarshalToSizedBufferVT(*buf); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Raw receives a message still encoded, for a receiver that decodes it
// itself (the SDK decodes a sink's batches straight into its records). A
// non-nil Raw with room for the message receives it in place.
type Raw []byte

// Encoded is a message its sender encoded itself (the SDK encodes a
// source's batches straight from its records), in a buffer from Pool: gRPC
// writes it after SendMsg returns, then puts the buffer back.
type Encoded struct {
	Buf  *[]byte
	Pool *Pool
}

// Pool is a free list of buffers for Encoded messages. gRPC's default pool
// does not suit a sender that reuses a few large buffers: it zeroes every
// buffer it hands out, and the garbage collector empties it at every cycle,
// so a busy sender allocated and cleared a megabyte per message.
type Pool struct {
	mu   sync.Mutex
	free []*[]byte
}

// maxFree bounds the buffers a Pool keeps; gRPC's flow control bounds how
// many are in flight.
const maxFree = 8

// Get returns a buffer of length n, not zeroed.
func (p *Pool) Get(n int) *[]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.free) > 0 {
		b := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		if cap(*b) >= n {
			*b = (*b)[:n]
			return b
		}
	}
	b := make([]byte, n)
	return &b
}

// Encode marshals m into a buffer of the pool, for a sender that sends
// many large messages (the worker's sink puts).
func (p *Pool) Encode(m pbwire.SizedMessage) (Encoded, error) {
	buf := p.Get(m.SizeVT())
	if _, err := m.MarshalToSizedBufferVT(*buf); err != nil {
		p.Put(buf)
		return Encoded{}, err
	}
	return Encoded{Buf: buf, Pool: p}, nil
}

// Put returns a buffer to the pool.
func (p *Pool) Put(b *[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < maxFree {
		p.free = append(p.free, b)
	}
}

// Unmarshal decodes data into v. gRPC recycles data's buffers once this
// returns, so the message is decoded from a copy the garbage collector
// owns, which its bytes and strings then share.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*Raw); ok {
		// Into the receiver's buffer when it is big enough: a receiver done
		// with its previous message saves an allocation per message.
		if n := data.Len(); cap(*r) >= n && *r != nil {
			*r = (*r)[:n]
			data.CopyTo(*r)
		} else {
			*r = data.Materialize()
		}
		return nil
	}
	m, ok := v.(vtMessage)
	if !ok {
		return fallback().Unmarshal(data, v)
	}
	return m.UnmarshalVTUnsafe(data.Materialize())
}

// Name is gRPC's name for protobuf.
func (Codec) Name() string { return "proto" }

// ServerOption makes a gRPC server use Codec.
func ServerOption() grpc.ServerOption { return grpc.ForceServerCodecV2(Codec{}) }

// CallOption makes a client's calls use Codec.
func CallOption() grpc.CallOption { return grpc.ForceCodecV2(Codec{}) }
