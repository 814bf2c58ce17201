package convert

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
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
			d, err := withSchemas.ToConnect("t", []byte(v.Input))
			var gotS, gotP []byte
			if err == nil {
				gotS, err = withSchemas.FromConnect("t", d)
			}
			if err == nil {
				gotP, err = plain.FromConnect("t", d)
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
	d, _ := s.ToConnect("t", []byte("héllo"))
	out, _ := s.FromConnect("t", d)
	if string(out) != "héllo" {
		t.Errorf("string round trip = %q", out)
	}
	if d, _ := s.ToConnect("t", nil); d.Value.GetKind() != nil {
		t.Errorf("null string = %v", d)
	}
	ba, _ := New("ByteArray", nil)
	d, _ = ba.ToConnect("t", []byte{0, 1, 0xff})
	out, _ = ba.FromConnect("t", d)
	if string(out) != "\x00\x01\xff" {
		t.Errorf("bytes round trip = %v", out)
	}
	str, _ := s.ToConnect("t", []byte("x"))
	if _, err := ba.FromConnect("t", str); err == nil {
		t.Error("ByteArrayConverter accepted a string schema")
	}
	if _, err := New("com.example.Nope", nil); err == nil {
		t.Error("unknown converter accepted")
	}
}
