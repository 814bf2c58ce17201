package store

import (
	"bytes"
	"reflect"
	"testing"
)

// seed adds every record of topic from both testdata files.
func seed(f *testing.F, golden, java string) {
	for _, r := range loadGolden(f)[golden] {
		f.Add(r.key, r.value)
	}
	for _, r := range loadKafkaRecords(f)[java] {
		f.Add(r.key, r.value)
	}
}

// Whatever a topic holds, decoding does not panic; what decodes encodes,
// and decodes back to the same record (and the same bytes again).
func FuzzDecodeConfigRecord(f *testing.F) {
	seed(f, "connect-configs", "config")
	f.Add([]byte("target-state-c"), []byte(`{"state":"PAUSED"}`))
	f.Add([]byte("task-a--1"), []byte(`{"properties":{"a":null,"a":"\ud800"}}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := DecodeConfigRecord(string(key), value)
		if err != nil || r.Kind == ConfigUnknown {
			return
		}
		k, v, err := EncodeConfigRecord(r)
		if err != nil {
			t.Fatalf("%+v decoded from %q | %q does not encode: %v", r, key, value, err)
		}
		if k != string(key) {
			t.Fatalf("key %q encoded as %q", key, k)
		}
		r2, err := DecodeConfigRecord(k, v)
		if err != nil {
			t.Fatalf("%q | %q, encoded from %+v, does not decode: %v", k, v, r, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("%q | %q decoded to\n%+v\nencoded as %q, decoded to\n%+v", key, value, r, v, r2)
		}
		if _, v2, _ := EncodeConfigRecord(r2); !bytes.Equal(v, v2) || (v == nil) != (v2 == nil) {
			t.Fatalf("%+v encoded as %q, then %q", r, v, v2)
		}
	})
}

func FuzzDecodeStatusRecord(f *testing.F) {
	seed(f, "connect-status", "status")
	f.Add([]byte("status-topic-a:connector-b:c"), []byte(`{"topic":{"name":"x","connector":"y","task":-1,"discoverTimestamp":-1}}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := DecodeStatusRecord(string(key), value)
		if err != nil || r.Kind == StatusUnknown {
			return
		}
		k, v, err := EncodeStatusRecord(r)
		if err != nil {
			t.Fatalf("%+v decoded from %q | %q does not encode: %v", r, key, value, err)
		}
		if k != string(key) {
			t.Fatalf("key %q encoded as %q", key, k)
		}
		r2, err := DecodeStatusRecord(k, v)
		if err != nil {
			t.Fatalf("%q | %q, encoded from %+v, does not decode: %v", k, v, r, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("%q | %q decoded to\n%+v\nencoded as %q, decoded to\n%+v", key, value, r, v, r2)
		}
		if _, v2, _ := EncodeStatusRecord(r2); !bytes.Equal(v, v2) || (v == nil) != (v2 == nil) {
			t.Fatalf("%+v encoded as %q, then %q", r, v, v2)
		}
	})
}

// Offset records round-trip too, and normalising a key is idempotent and
// agrees with the key Ferry would write for the same record.
func FuzzDecodeOffsetRecord(f *testing.F) {
	seed(f, "connect-offsets", "offsets")
	f.Add([]byte(`["c",{"b":1e400,"a":-0.0,"c":[{"z":1,"y":2}]}]`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		norm, nerr := NormalizeOffsetKey(key)
		r, err := DecodeOffsetRecord(key, value)
		if err != nil {
			return
		}
		if nerr != nil {
			t.Fatalf("%q decodes but does not normalise: %v", key, nerr)
		}
		if again, err := NormalizeOffsetKey(norm); err != nil || !bytes.Equal(again, norm) {
			t.Fatalf("%q normalised to %q, then to %q (%v)", key, norm, again, err)
		}
		k, v, err := EncodeOffsetRecord(r)
		if err != nil {
			t.Fatalf("%+v decoded from %q | %q does not encode: %v", r, key, value, err)
		}
		if n2, err := NormalizeOffsetKey(k); err != nil || !bytes.Equal(n2, norm) {
			t.Fatalf("%q normalised to %q, its re-encoding %q to %q (%v)", key, norm, k, n2, err)
		}
		r2, err := DecodeOffsetRecord(k, v)
		if err != nil {
			t.Fatalf("%q | %q, encoded from %+v, does not decode: %v", k, v, r, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("%q | %q decoded to\n%+v\nencoded as %q | %q, decoded to\n%+v", key, value, r, k, v, r2)
		}
	})
}
