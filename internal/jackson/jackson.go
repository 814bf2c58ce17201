// Package jackson writes JSON text byte for byte as Jackson, the JSON
// library of Kafka and Kafka Connect, does: what JsonConverter produces and
// what Kafka Connect's internal topics and offsets hold.
package jackson

import (
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789ABCDEF"

// AppendString appends s as a JSON string the way Jackson's generator
// writes a Java string: quote and backslash escaped with a backslash; the
// control characters below U+0020 as \b, \t, \n, \f, \r or \u00XX
// (upper-case hex); characters outside the Basic Multilingual Plane as
// their two UTF-16 surrogates, each \uXXXX; everything else ('/', DEL,
// U+2028 and all other non-ASCII text) as raw UTF-8. Bytes that are not
// UTF-8 are written as U+FFFD.
func AppendString[T string | []byte](buf []byte, s T) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			if c < utf8.RuneSelf {
				i++
				continue
			}
			// At most one rune's bytes: the conversion stays on the stack.
			r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			switch {
			case r == utf8.RuneError && size == 1:
				buf = append(buf, s[start:i]...)
				buf = append(buf, "\uFFFD"...)
				start = i + 1
			case r > 0xFFFF:
				// Jackson escapes characters outside the BMP as a
				// surrogate pair.
				buf = append(buf, s[start:i]...)
				hi, lo := utf16.EncodeRune(r)
				buf = appendEscapedUnit(buf, uint16(hi))
				buf = appendEscapedUnit(buf, uint16(lo))
				start = i + size
			}
			i += size
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		default:
			buf = appendEscapedUnit(buf, uint16(c))
		}
		i++
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

func appendEscapedUnit(buf []byte, u uint16) []byte {
	return append(buf, '\\', 'u', hexDigits[u>>12], hexDigits[u>>8&0xF], hexDigits[u>>4&0xF], hexDigits[u&0xF])
}
