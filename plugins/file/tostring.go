package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-connect/ferry/internal/javamap"
	sdk "github.com/ferry-connect/ferry/sdk/go"
)

// This file renders record values as Kafka Connect's FileStreamSinkTask
// prints them: PrintStream.println(Object), i.e. String.valueOf(value) of
// the Connect data object JsonConverter made, as on JDK 21 and later:
//
//   - STRING raw; BOOLEAN and the INT types as Java prints them; null as "null";
//   - FLOAT64 and FLOAT32 as Double.toString and Float.toString: the
//     shortest digits that round-trip (JDK 19 and later; JDK 17 printed more
//     digits for some values, 2.0E23 as 1.9999999999999998E23), in Java's
//     layout (see appendJavaFloating);
//   - Decimal as BigDecimal.toString ("1E+3", "1E-7", "0.000001");
//   - Timestamp, Date and Time as java.util.Date.toString
//     ("Tue Nov 14 22:13:20 UTC 2023") in the process's time zone (the
//     worker's TZ), Julian calendar before 1582-10-15 as Java;
//   - ARRAY as ArrayList.toString ("[1, 2, 3]"); STRUCT as Struct.toString
//     ("Struct{a=1,b=x}", null fields left out);
//   - MAP as HashMap.toString ("{a=1, b=2}") in HashMap's iteration order,
//     which follows the keys' Java hash codes (see hashMapOrder).
//
// BYTES is the exception: Java prints byte[] as "[B@" and an identity hash,
// different on every run. A top-level BYTES value is written as its raw
// bytes (as Ferry always has); bytes inside a struct, array or map are
// written as standard base64, which is how Kafka Connect's own
// Values.convertToString renders bytes.

// valueText returns the line FileStreamSink writes for a record value of
// schema s (nil: schemaless).
func valueText(s *sdk.Schema, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		if !isDecimal(s) {
			return string(x)
		}
	}
	return string(appendJava(nil, s, v, time.Local))
}

// appendJava appends String.valueOf of v, a value of schema s (nil:
// schemaless), with dates shown in loc.
func appendJava(b []byte, s *sdk.Schema, v any, loc *time.Location) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return append(b, x...)
	case bool:
		return strconv.AppendBool(b, x)
	case int8:
		return strconv.AppendInt(b, int64(x), 10)
	case int16:
		return strconv.AppendInt(b, int64(x), 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case float32:
		return appendJavaFloating(b, float64(x), 32)
	case float64:
		return appendJavaFloating(b, x, 64)
	case []byte:
		if isDecimal(s) {
			if out, ok := appendDecimal(b, x, s.Parameters["scale"]); ok {
				return out
			}
		}
		return base64.StdEncoding.AppendEncode(b, x)
	case time.Time:
		return appendJavaDate(b, x.UnixMilli(), loc)
	case []any:
		var elem *sdk.Schema
		if s != nil {
			elem = s.Value
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendJava(b, elem, e, loc)
		}
		return append(b, ']')
	case map[string]any:
		var vs *sdk.Schema
		if s != nil {
			vs = s.Value
		}
		// The SDK hands string-keyed maps over as Go maps, so the JSON
		// document's key order, which HashMap keeps among keys of one
		// bucket, is gone: such keys come in sorted order.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		hashes := make([]int32, len(keys))
		for i, k := range keys {
			hashes[i] = javamap.StringHash(k)
		}
		b = append(b, '{')
		for i, j := range hashMapOrder(hashes) {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, keys[j]...)
			b = append(b, '=')
			b = appendJava(b, vs, x[keys[j]], loc)
		}
		return append(b, '}')
	case []sdk.MapEntry:
		return appendEntries(b, s, x, loc)
	case *sdk.StructValue:
		if x == nil {
			return append(b, "null"...)
		}
		b = append(b, "Struct{"...)
		first := true
		for i, fv := range x.Values {
			if fv == nil || i >= len(x.Schema.Fields) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			f := x.Schema.Fields[i]
			b = append(b, f.Name...)
			b = append(b, '=')
			b = appendJava(b, f.Schema, fv, loc)
		}
		return append(b, '}')
	}
	return fmt.Append(b, v)
}

// appendEntries appends a map with non-string keys: a java.util.HashMap
// filled in the entries' order (JsonConverter's, from the JSON array of
// pairs), so a repeated key keeps its first place and its last value, and
// keys of one bucket keep their order, as in HashMap.
func appendEntries(b []byte, s *sdk.Schema, entries []sdk.MapEntry, loc *time.Location) []byte {
	var ks, vs *sdk.Schema
	if s != nil {
		ks, vs = s.Key, s.Value
	}
	type entry struct {
		key   []byte // the key's text
		value any
	}
	var es []entry
	var hashes []int32
	seen := make(map[string]int, len(entries))
	known := true // every key has a reproducible Java hash code
	for _, e := range entries {
		key := appendJava(nil, ks, e.Key, loc)
		id := fmt.Sprintf("%T\x00%s", e.Key, key) // Java's equals, for the key types a map can have
		if i, ok := seen[id]; ok {
			es[i].value = e.Value
			continue
		}
		h, ok := javaHash(ks, e.Key)
		known = known && ok
		seen[id] = len(es)
		es = append(es, entry{key: key, value: e.Value})
		hashes = append(hashes, h)
	}
	order := make([]int, len(es))
	for i := range order {
		order[i] = i
	}
	// Bytes and struct keys hash by identity in Java: no order to
	// reproduce, so the entries' own order it is.
	if known {
		order = hashMapOrder(hashes)
	}
	b = append(b, '{')
	for i, j := range order {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, es[j].key...)
		b = append(b, '=')
		b = appendJava(b, vs, es[j].value, loc)
	}
	return append(b, '}')
}

// hashMapOrder returns the order in which a java.util.HashMap made with new
// HashMap<>() (as JsonConverter makes maps) iterates distinct keys with
// these hashCode()s, put in the order given (see internal/javamap, which
// also says where HashMap departs from it: 9 or more keys in one bucket).
func hashMapOrder(hashes []int32) []int {
	return javamap.Order(hashes, javamap.GrownCapacity(len(hashes)))
}

// javaHash returns the Java hashCode() of the Connect value v of schema s,
// or false if it has none that can be reproduced (identity hash codes:
// byte[], and Struct, whose schema's hash includes an enum's).
func javaHash(s *sdk.Schema, v any) (int32, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case string:
		return javamap.StringHash(x), true
	case bool:
		if x {
			return 1231, true
		}
		return 1237, true
	case int8:
		return int32(x), true
	case int16:
		return int32(x), true
	case int32:
		return x, true
	case int64:
		return int32(x ^ int64(uint64(x)>>32)), true
	case int:
		return javaHash(s, int64(x))
	case float32:
		raw := math.Float32bits(x)
		if x != x {
			raw = 0x7fc00000 // floatToIntBits' canonical NaN
		}
		return int32(raw), true
	case float64:
		raw := math.Float64bits(x)
		if x != x {
			raw = 0x7ff8000000000000
		}
		return int32(raw ^ raw>>32), true
	case time.Time:
		ms := x.UnixMilli()
		return int32(ms) ^ int32(ms>>32), true
	case []byte:
		if !isDecimal(s) {
			return 0, false
		}
		scale, err := strconv.Atoi(s.Parameters["scale"])
		if err != nil || len(x) == 0 {
			return 0, false
		}
		// BigDecimal: 31*unscaled.hashCode() + scale. BigInteger: over
		// the magnitude's big-endian 32-bit words, times the sign.
		n := twosComplement(x)
		mag := n.Bytes()
		var h int32
		for len(mag)%4 != 0 {
			mag = append([]byte{0}, mag...)
		}
		for i := 0; i < len(mag); i += 4 {
			h = 31*h + int32(uint32(mag[i])<<24|uint32(mag[i+1])<<16|uint32(mag[i+2])<<8|uint32(mag[i+3]))
		}
		return 31*h*int32(n.Sign()) + int32(scale), true
	case []any:
		var elem *sdk.Schema
		if s != nil {
			elem = s.Value
		}
		h := int32(1)
		for _, e := range x {
			eh, ok := javaHash(elem, e)
			if !ok {
				return 0, false
			}
			h = 31*h + eh
		}
		return h, true
	case map[string]any:
		var vs *sdk.Schema
		if s != nil {
			vs = s.Value
		}
		var h int32
		for k, e := range x {
			eh, ok := javaHash(vs, e)
			if !ok {
				return 0, false
			}
			h += javamap.StringHash(k) ^ eh
		}
		return h, true
	case []sdk.MapEntry:
		var ks, vs *sdk.Schema
		if s != nil {
			ks, vs = s.Key, s.Value
		}
		var h int32
		for _, e := range x {
			kh, ok := javaHash(ks, e.Key)
			if !ok {
				return 0, false
			}
			eh, ok := javaHash(vs, e.Value)
			if !ok {
				return 0, false
			}
			h += kh ^ eh
		}
		return h, true
	}
	return 0, false
}

// appendJavaFloating appends Double.toString(f) (bitSize 64) or
// Float.toString(float32(f)) (bitSize 32) as JDK 19 and later print them.
// The digits are the shortest decimal that reads back as f, the one
// closest to f if several are that short (strconv's shortest formatting),
// except that where one digit would do Java picks the closest decimal of
// one or two digits: Double.MIN_VALUE is 4.9E-324, not 5E-324. The layout
// is Java's: plain from 1.0E-3 up to below 1.0E7 ("0.001", "100.0",
// "9999999.0"), else d.dddE±n ("1.0E7", "9.9E-4"), always with a digit
// after the point.
func appendJavaFloating(b []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case math.Signbit(f):
		b = append(b, '-')
		f = -f
	}
	if f == 0 {
		return append(b, "0.0"...)
	}
	digits, exp := decimalDigits(strconv.FormatFloat(f, 'e', -1, bitSize))
	if len(digits) == 1 {
		s := strconv.FormatFloat(f, 'e', 1, bitSize)
		if g, err := strconv.ParseFloat(s, bitSize); err == nil && g == f {
			digits, exp = decimalDigits(s)
			digits = strings.TrimRight(digits, "0")
		}
	}
	// f is 0.d1d2... times 10^(exp+1); exp is the scientific exponent.
	switch {
	case exp >= 7 || exp < -3:
		b = append(b, digits[0], '.')
		if len(digits) > 1 {
			b = append(b, digits[1:]...)
		} else {
			b = append(b, '0')
		}
		b = append(b, 'E')
		return strconv.AppendInt(b, int64(exp), 10)
	case exp < 0:
		b = append(b, "0."...)
		b = append(b, strings.Repeat("0", -exp-1)...)
		return append(b, digits...)
	case len(digits) <= exp+1:
		b = append(b, digits...)
		b = append(b, strings.Repeat("0", exp+1-len(digits))...)
		return append(b, ".0"...)
	}
	b = append(b, digits[:exp+1]...)
	b = append(b, '.')
	return append(b, digits[exp+1:]...)
}

// decimalDigits splits strconv's "d.ddde±nn" into its digits and exponent.
func decimalDigits(s string) (string, int) {
	mant, e, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(e)
	return strings.Replace(mant, ".", "", 1), exp
}

func isDecimal(s *sdk.Schema) bool {
	return s != nil && s.Type == sdk.Bytes && s.Name == sdk.DecimalName
}

// twosComplement is Java's new BigInteger(byte[]).
func twosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// appendDecimal appends BigDecimal.toString of the Decimal whose unscaled
// value is the two's complement b; false if the bytes or scale are not a
// Decimal (Java would fail).
func appendDecimal(b, unscaled []byte, scaleParam string) ([]byte, bool) {
	scale, err := strconv.Atoi(scaleParam)
	if err != nil || len(unscaled) == 0 || scale != int(int32(scale)) {
		return b, false
	}
	n := twosComplement(unscaled)
	if n.Sign() < 0 {
		b = append(b, '-')
	}
	coeff := n.Abs(n).String()
	if scale == 0 {
		return append(b, coeff...), true
	}
	adjusted := -int64(scale) + int64(len(coeff)-1)
	if scale > 0 && adjusted >= -6 {
		if pad := scale - len(coeff); pad >= 0 {
			b = append(b, "0."...)
			b = append(b, strings.Repeat("0", pad)...)
			return append(b, coeff...), true
		}
		point := len(coeff) - scale
		b = append(b, coeff[:point]...)
		b = append(b, '.')
		return append(b, coeff[point:]...), true
	}
	b = append(b, coeff[0])
	if len(coeff) > 1 {
		b = append(b, '.')
		b = append(b, coeff[1:]...)
	}
	if adjusted != 0 {
		b = append(b, 'E')
		if adjusted > 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, adjusted, 10)
	}
	return b, true
}

// gregorianCutover is java.util.GregorianCalendar's default cutover,
// 1582-10-15T00:00Z: java.util.Date uses the Julian calendar before it.
const gregorianCutover = -12219292800000

// appendJavaDate appends java.util.Date.toString of ms since the epoch,
// "EEE MMM dd HH:mm:ss zzz yyyy" in loc.
func appendJavaDate(b []byte, ms int64, loc *time.Location) []byte {
	t := time.UnixMilli(ms).In(loc)
	zone, offset := t.Zone()
	y, m, day := t.Date()
	year, month := int64(y), int(m)
	if ms < gregorianCutover-int64(offset)*1000 {
		year, month, day = julianDate(floorDiv(ms+int64(offset)*1000, 86400000))
	}
	if year <= 0 {
		year = 1 - year // Java prints the year of its era: 1 BC is year 1
	}
	hour, minute, sec := t.Clock()
	b = append(b, t.Weekday().String()[:3]...) // the same in both calendars
	b = append(b, ' ')
	b = append(b, time.Month(month).String()[:3]...)
	b = append(b, ' ')
	b = append2(b, day)
	b = append(b, ' ')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, minute)
	b = append(b, ':')
	b = append2(b, sec)
	b = append(b, ' ')
	b = append(b, zone...)
	b = append(b, ' ')
	return strconv.AppendInt(b, year, 10)
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// julianDate returns the Julian calendar date of days since 1970-01-01
// (year 0 is 1 BC).
func julianDate(days int64) (int64, int, int) {
	// Days since 0000-03-01 Julian, in 4-year cycles of 1461 days.
	z := days + 719470
	cycle := floorDiv(z, 1461)
	doc := z - cycle*1461
	yoc := (doc - doc/1460) / 365
	doy := doc - 365*yoc
	mp := (5*doy + 2) / 153
	day := int(doy - (153*mp+2)/5 + 1)
	month := int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year := yoc + cycle*4
	if month <= 2 {
		year++
	}
	return year, month, day
}
