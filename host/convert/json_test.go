package convert

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// vector is one case from testdata/jsonconverter.json, which
// scripts/jsonconverter-vectors generates with Apache Kafka's JsonConverter.
type vector struct {
	Input   string  `json:"input"`
	Schemas *string `json:"schemas"`
	Plain   *string `json:"plain"`
	Error   string  `json:"error"`
}

// TestJSONMatchesKafka parses each envelope as Kafka's JsonConverter did,
// writes it back with and without schemas, and compares the bytes.
func TestJSONMatchesKafka(t *testing.T) {
	b, err := os.ReadFile("testdata/jsonconverter.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []vector
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	withSchemas, _ := New("JsonConverter", nil)
	plain, _ := New("org.apache.kafka.connect.json.JsonConverter", map[string]string{"schemas.enable": "false"})
	for _, v := range vectors {
		t.Run(v.Input, func(t *testing.T) {
			s, d, err := toConnect(withSchemas, []byte(v.Input))
			var gotS, gotP []byte
			if err == nil {
				gotS, err = withSchemas.FromConnect("t", s, d)
			}
			if err == nil {
				gotP, err = plain.FromConnect("t", s, d)
			}
			if v.Error != "" {
				if err == nil {
					t.Fatalf("Kafka failed with %s; Ferry accepted it", v.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, got []byte, want *string) {
				if want == nil {
					if got != nil {
						t.Errorf("%s: got %q, want null", name, got)
					}
					return
				}
				w, _ := base64.StdEncoding.DecodeString(*want)
				if string(got) != string(w) {
					t.Errorf("%s:\n got %s\nwant %s", name, got, w)
				}
			}
			check("schemas.enable=true", gotS, v.Schemas)
			check("schemas.enable=false", gotP, v.Plain)
		})
	}
}

func TestJavaFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		is32 bool
		want string
	}{
		{1, false, "1.0"},
		{100, false, "100.0"},
		{1e7, false, "1.0E7"},
		{1.5e-4, false, "1.5E-4"},
		{0.001, false, "0.001"},
		{-123.25, false, "-123.25"},
		{float64(float32(0.1)), true, "0.1"},
	} {
		if got := javaFloat(tc.f, tc.is32); got != tc.want {
			t.Errorf("javaFloat(%v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}

func TestStringAndByteArray(t *testing.T) {
	s, err := New("StringConverter", nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, d, _ := toConnect(s, []byte("héllo"))
	out, _ := s.FromConnect("t", sc, d)
	if string(out) != "héllo" {
		t.Errorf("string round trip = %q", out)
	}
	if sc, d, _ := toConnect(s, nil); !isNull(d) || sc.Type != pb.SchemaType_SCHEMA_TYPE_STRING {
		t.Errorf("null string = %v %v", sc, d)
	}
	if out, _ := s.FromConnect("t", nil, &pb.Data{Value: &pb.Value{Kind: &pb.Value_IntValue{IntValue: 7}}}); string(out) != "7" {
		t.Errorf("StringConverter of 7 = %q", out)
	}
	ba, _ := New("ByteArray", nil)
	sc, d, _ = toConnect(ba, []byte{0, 1, 0xff})
	out, _ = ba.FromConnect("t", sc, d)
	if string(out) != "\x00\x01\xff" {
		t.Errorf("bytes round trip = %v", out)
	}
	sc, str, _ := toConnect(s, []byte("x"))
	if _, err := ba.FromConnect("t", sc, str); err == nil {
		t.Error("ByteArrayConverter accepted a string schema")
	}
	if _, err := New("com.example.Nope", nil); err == nil {
		t.Error("unknown converter accepted")
	}
}

// A raw string or bytes value (pb.Data.Raw) must serialise exactly as the
// same value in a pb.Value, and ToConnect's shortcut for plain string
// payloads must give what full decoding gives.
func TestJSONRawValues(t *testing.T) {
	conv, _ := New("JsonConverter", nil)
	str := &pb.Schema{Type: pb.SchemaType_SCHEMA_TYPE_STRING}
	decimal := &pb.Schema{Type: pb.SchemaType_SCHEMA_TYPE_BYTES, Name: decimalName, Parameters: map[string]string{"scale": "2"}}
	numeric, _ := New("JsonConverter", map[string]string{"decimal.format": "NUMERIC"})
	for _, c := range []struct {
		conv   Converter
		schema *pb.Schema
		raw    []byte
		value  *pb.Value
	}{
		{conv, str, []byte("plain"), &pb.Value{Kind: &pb.Value_StringValue{StringValue: "plain"}}},
		{conv, str, []byte("tab\t \"q\" é \U0001F600 \xff"), &pb.Value{Kind: &pb.Value_StringValue{StringValue: "tab\t \"q\" é \U0001F600 \xff"}}},
		{conv, str, []byte{}, &pb.Value{Kind: &pb.Value_StringValue{}}},
		{conv, optionalBytes, []byte{0, 1}, &pb.Value{Kind: &pb.Value_BytesValue{BytesValue: []byte{0, 1}}}},
		{numeric, decimal, []byte{0x30, 0x39}, &pb.Value{Kind: &pb.Value_BytesValue{BytesValue: []byte{0x30, 0x39}}}},
	} {
		got, err := c.conv.FromConnect("t", c.schema, &pb.Data{Raw: c.raw})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.conv.FromConnect("t", c.schema, &pb.Data{Value: c.value})
		if string(got) != string(want) {
			t.Errorf("raw %q: %s, want %s", c.raw, got, want)
		}
		s, d, err := toConnect(c.conv, got)
		if err != nil {
			t.Fatal(err)
		}
		back, _ := c.conv.FromConnect("t", s, d)
		if string(back) != string(want) {
			t.Errorf("raw %q back: %s, want %s", c.raw, back, want)
		}
	}
}

// Once a string schema is cached, records in JsonConverter's exact shape
// skip parsing; anything that is not valid JSON must still be refused.
func TestJSONStringShortcut(t *testing.T) {
	conv, _ := New("JsonConverter", nil)
	const prefix = `{"schema":{"type":"string","optional":false},"payload":`
	for _, c := range []struct {
		payload string
		want    string // "" = an error
	}{
		{`"first"`, "first"}, // parsed in full; primes the cache
		{`"second"`, "second"},
		{`"caf` + "\u00e9" + `"`, "caf\u00e9"},
		{`"esc\"aped"`, `esc"aped`},
		{`"a` + "\x01" + `b"`, ""},
		{`"a"b"`, ""},
		{`"` + "\xff" + `"`, "\ufffd"},
	} {
		s, d, err := toConnect(conv, []byte(prefix+c.payload+"}"))
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: accepted", c.payload)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.payload, err)
			continue
		}
		if got := valueOf(s, d).GetStringValue(); got != c.want {
			t.Errorf("%s: %q, want %q", c.payload, got, c.want)
		}
	}
}

// toConnect is ToConnect into a fresh Data.
func toConnect(c Converter, b []byte) (*pb.Schema, *pb.Data, error) {
	d := &pb.Data{}
	s, err := c.ToConnect("t", b, d)
	return s, d, err
}
