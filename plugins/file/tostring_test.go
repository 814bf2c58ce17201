package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the datetz checks load zones by name

	"github.com/ferry-connect/ferry/internal/javamap"
	sdk "github.com/ferry-connect/ferry/sdk/go"
)

// The Java output in testdata/java-text.txt comes from
// scripts/tostring-vectors/run in UTC: java.util.Date prints in the JVM's
// default zone, and the sink in the process's. The JsonConverter vectors
// (testdata/tostring.json) go through the real binaries in test/e2e.
func TestMain(m *testing.M) {
	time.Local = time.UTC
	os.Exit(m.Run())
}

// javaText is one line of testdata/java-text.txt: a kind, its inputs and
// what the JDK printed.
type javaText struct {
	line   int
	kind   string
	fields []string
}

func loadJavaText(t *testing.T) map[string][]javaText {
	t.Helper()
	f, err := os.Open("testdata/java-text.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]javaText{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fields := strings.Split(sc.Text(), "\t")
		out[fields[0]] = append(out[fields[0]], javaText{line: n, kind: fields[0], fields: fields[1:]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The JDK's own output for Double.toString, Float.toString, Date.toString,
// BigDecimal.toString, String.hashCode and HashMap's iteration order, over
// more values than the JsonConverter vectors hold.
func TestJavaText(t *testing.T) {
	t.Parallel()
	all := loadJavaText(t)
	for _, kind := range []string{"double", "float", "date", "datetz", "decimal", "hash", "strmap", "intmap"} {
		if len(all[kind]) < 10 {
			t.Errorf("testdata/java-text.txt has %d %s lines", len(all[kind]), kind)
		}
	}
	check := func(jt javaText, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("java-text.txt:%d %s %v: got %s, want %s", jt.line, jt.kind, jt.fields[:len(jt.fields)-1], got, want)
		}
	}
	for _, jt := range all["double"] {
		bits, _ := strconv.ParseUint(jt.fields[0], 16, 64)
		check(jt, valueText(sdk.Float64Schema, math.Float64frombits(bits)), jt.fields[1])
	}
	for _, jt := range all["float"] {
		bits, _ := strconv.ParseUint(jt.fields[0], 16, 32)
		check(jt, valueText(float32Schema, math.Float32frombits(uint32(bits))), jt.fields[1])
	}
	for _, jt := range all["date"] {
		ms, _ := strconv.ParseInt(jt.fields[0], 10, 64)
		check(jt, string(appendJavaDate(nil, ms, time.UTC)), jt.fields[1])
	}
	for _, jt := range all["datetz"] {
		loc, err := time.LoadLocation(jt.fields[0])
		if err != nil {
			t.Fatal(err)
		}
		ms, _ := strconv.ParseInt(jt.fields[1], 10, 64)
		check(jt, string(appendJavaDate(nil, ms, loc)), jt.fields[2])
	}
	for _, jt := range all["decimal"] {
		n, _ := new(big.Int).SetString(jt.fields[0], 10)
		s := &sdk.Schema{Type: sdk.Bytes, Name: sdk.DecimalName, Parameters: map[string]string{"scale": jt.fields[1]}}
		check(jt, valueText(s, javaBytes(n)), jt.fields[2])
	}
	for _, jt := range all["hash"] {
		s, _ := base64.StdEncoding.DecodeString(jt.fields[0])
		check(jt, strconv.Itoa(int(javamap.StringHash(string(s)))), jt.fields[1])
	}
	// Maps print as {k=true, ...}: Java's key order, made into the line
	// the sink writes for a map of those keys.
	mapLine := func(keys []string) string {
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + "=true")
		}
		b.WriteByte('}')
		return b.String()
	}
	for _, jt := range all["strmap"] {
		var keys, want []string
		if err := json.Unmarshal([]byte(jt.fields[0]), &keys); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(jt.fields[1]), &want); err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		for _, k := range keys {
			m[k] = true
		}
		check(jt, valueText(nil, m), mapLine(want))
	}
	intMap := &sdk.Schema{Type: sdk.Map, Key: sdk.Int32Schema, Value: sdk.BooleanSchema}
	for _, jt := range all["intmap"] {
		var keys, want []int32
		if err := json.Unmarshal([]byte(jt.fields[0]), &keys); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(jt.fields[1]), &want); err != nil {
			t.Fatal(err)
		}
		var entries []sdk.MapEntry
		for _, k := range keys {
			entries = append(entries, sdk.MapEntry{Key: k, Value: true})
		}
		var wantKeys []string
		for _, k := range want {
			wantKeys = append(wantKeys, strconv.Itoa(int(k)))
		}
		check(jt, valueText(intMap, entries), mapLine(wantKeys))
	}
}

// Java's layout for Double.toString and Float.toString (JDK 25's output,
// from testdata/java-text.txt): plain from 1.0E-3 up to below 1.0E7,
// scientific outside, a digit after the point either way; and JDK 19's
// shortest digits, with two digits where the closest one-digit decimal is
// further away (4.9E-324, 1.4E-45).
func TestJavaFloatingLayout(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{-1, "-1.0"},
		{100, "100.0"},
		{0.1, "0.1"},
		{0.001, "0.001"},
		{0.00099, "9.9E-4"},
		{9.999999999999999e-4, "9.999999999999998E-4"},
		{1e-5, "1.0E-5"},
		{1e6, "1000000.0"},
		{9999999, "9999999.0"},
		{9999999.999, "9999999.999"},
		{1e7, "1.0E7"},
		{123456.789, "123456.789"},
		{8.2763e20, "8.2763E20"},
		{1e21, "1.0E21"},
		{2e23, "2.0E23"}, // JDK 17: 1.9999999999999998E23
		{9007199254740992, "9.007199254740992E15"},
		{-2.5e-10, "-2.5E-10"},
		{math.MaxFloat64, "1.7976931348623157E308"},
		{math.SmallestNonzeroFloat64, "4.9E-324"},
		{2 * math.SmallestNonzeroFloat64, "9.9E-324"},
		{9 * math.SmallestNonzeroFloat64, "4.4E-323"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	} {
		if got := valueText(sdk.Float64Schema, c.f); got != c.want {
			t.Errorf("Double.toString(%v): got %s, want %s", c.f, got, c.want)
		}
	}
	for _, c := range []struct {
		f    float32
		want string
	}{
		{0, "0.0"},
		{float32(math.Copysign(0, -1)), "-0.0"},
		{0.1, "0.1"},
		{0.001, "0.001"},
		{9.999999e-4, "9.999999E-4"},
		{1e-5, "1.0E-5"},
		{9999999, "9999999.0"},
		{1e7, "1.0E7"},
		{16777217, "1.6777216E7"},
		{6.4562299e10, "6.45623E10"}, // JDK 17: 6.4562299E10
		{math.MaxFloat32, "3.4028235E38"},
		{math.SmallestNonzeroFloat32, "1.4E-45"},
		{2 * math.SmallestNonzeroFloat32, "2.8E-45"},
		{float32(math.NaN()), "NaN"},
		{float32(math.Inf(-1)), "-Infinity"},
	} {
		if got := valueText(float32Schema, c.f); got != c.want {
			t.Errorf("Float.toString(%v): got %s, want %s", c.f, got, c.want)
		}
	}
}

// javaBytes is BigInteger.toByteArray: minimal two's complement.
func javaBytes(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	size := (new(big.Int).Not(n).BitLen() + 8) / 8 // bits of -n-1, plus the sign
	m := new(big.Int).Add(n, new(big.Int).Lsh(big.NewInt(1), uint(8*size)))
	b := m.Bytes()
	for len(b) < size {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// Where Ferry does not, or cannot, print what Java does, and values no
// JsonConverter input produces.
func TestValueTextFerryChoices(t *testing.T) {
	t.Parallel()
	decimal := &sdk.Schema{Type: sdk.Bytes, Name: sdk.DecimalName, Parameters: map[string]string{"scale": "2"}}
	blobs := &sdk.Schema{Type: sdk.Map, Key: sdk.BytesSchema, Value: sdk.Int32Schema}
	point := &sdk.Schema{Type: sdk.Struct, Fields: []sdk.Field{{Name: "b", Schema: sdk.OptionalBytesSchema}, {Name: "n", Schema: sdk.Int64Schema}}}
	for _, c := range []struct {
		name   string
		schema *sdk.Schema
		value  any
		want   string
	}{
		// Java prints byte[] as [B@<identity hash>: top-level bytes are
		// written raw, as FileStreamSink always has; nested ones as base64.
		{"top-level bytes are raw", sdk.BytesSchema, []byte("a\x00\xffb"), "a\x00\xffb"},
		{"schemaless bytes are raw", nil, []byte("abc"), "abc"},
		{"bytes in an array", &sdk.Schema{Type: sdk.Array, Value: sdk.BytesSchema}, []any{[]byte{0, 1, 2}, []byte{}}, "[AAEC, ]"},
		{"bytes in a struct", point, &sdk.StructValue{Schema: point, Values: []any{[]byte{0xff}, int64(1)}}, "Struct{b=/w==,n=1}"},
		{"null bytes in a struct", point, &sdk.StructValue{Schema: point, Values: []any{nil, int64(1)}}, "Struct{n=1}"},
		// Bytes keys hash by identity in Java, so its order is random:
		// Ferry keeps the entries' order.
		{"bytes keys keep their order", blobs, []sdk.MapEntry{{Key: []byte{2}, Value: int32(1)}, {Key: []byte{1}, Value: int32(2)}}, "{Ag===1, AQ===2}"},
		// String keys arrive as a Go map, without the JSON document's
		// order, which HashMap keeps among keys of one bucket ("Aa" and
		// "BB" have the same hash code): Ferry puts those in key order.
		{"same-bucket keys in key order", nil, map[string]any{"BB": int64(1), "Aa": int64(2)}, "{Aa=2, BB=1}"},
		// Nine keys in one bucket: HashMap doubles its 16 buckets early
		// (tostring.go, hashMapOrder) and JDK 17 to 25 print
		// {128=8, 96=6, 64=4, 32=2, 0=0, 112=7, 80=5, 48=3, 16=1}; Ferry
		// sizes the table by the key count alone.
		{"nine keys in one bucket keep their order", &sdk.Schema{Type: sdk.Map, Key: sdk.Int32Schema, Value: sdk.Int32Schema},
			[]sdk.MapEntry{{Key: int32(128), Value: int32(8)}, {Key: int32(112), Value: int32(7)}, {Key: int32(96), Value: int32(6)},
				{Key: int32(80), Value: int32(5)}, {Key: int32(64), Value: int32(4)}, {Key: int32(48), Value: int32(3)},
				{Key: int32(32), Value: int32(2)}, {Key: int32(16), Value: int32(1)}, {Key: int32(0), Value: int32(0)}},
			"{128=8, 112=7, 96=6, 80=5, 64=4, 48=3, 32=2, 16=1, 0=0}"},
		// 13 keys need 32 buckets, where 17 and 1 (bucket 1 of 16) part ways.
		{"the table grows past 12 keys", longByteMap, int64Map(17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
			"{1=1, 2=2, 3=3, 4=4, 5=5, 6=6, 7=7, 8=8, 9=9, 10=10, 11=11, 12=12, 17=17}"},
		{"12 keys fit 16 buckets", longByteMap, int64Map(17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
			"{17=17, 1=1, 2=2, 3=3, 4=4, 5=5, 6=6, 7=7, 8=8, 9=9, 10=10, 11=11}"},
		{"decimal", decimal, []byte{0x03, 0xe8}, "10.00"},
		{"decimal without a scale is base64", &sdk.Schema{Type: sdk.Bytes, Name: sdk.DecimalName}, []any{[]byte{1}}, "[AQ==]"},
		{"null", sdk.OptionalStringSchema, nil, "null"},
		{"nil struct", point, (*sdk.StructValue)(nil), "null"},
		{"Go int", nil, []any{7, int8(-1), float32(0.5)}, "[7, -1, 0.5]"},
		{"time.Time without a logical schema", nil, time.UnixMilli(1700000000000), "Tue Nov 14 22:13:20 UTC 2023"},
		{"duplicate keys keep the first place and the last value", &sdk.Schema{Type: sdk.Map, Key: sdk.Int32Schema, Value: sdk.StringSchema},
			[]sdk.MapEntry{{Key: int32(17), Value: "a"}, {Key: int32(1), Value: "b"}, {Key: int32(17), Value: "c"}}, "{17=c, 1=b}"},
	} {
		if got := valueText(c.schema, c.value); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

var (
	float32Schema = &sdk.Schema{Type: sdk.Float32}
	longByteMap   = &sdk.Schema{Type: sdk.Map, Key: sdk.Int64Schema, Value: &sdk.Schema{Type: sdk.Int8}}
)

// int64Map is a map of int64 keys to themselves as int8, in this order.
func int64Map(keys ...int64) []sdk.MapEntry {
	var es []sdk.MapEntry
	for _, k := range keys {
		es = append(es, sdk.MapEntry{Key: k, Value: int8(k)})
	}
	return es
}
