package jackson

import "testing"

// What Jackson 2.19 wrote for these strings through Kafka Connect 4.1.1's
// JsonConverter (host/store/testdata/KafkaRecords.java).
func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"a/b <tag>&amp;", `"a/b <tag>&amp;"`},
		{"tab\there line\nfeed\r\n \b\f", `"tab\there line\nfeed\r\n \b\f"`},
		{"nul\x00 unit\x1fsep", `"nul\u0000 unit\u001Fsep"`},
		{"del\x7f café €100", "\"del\x7f café €100\""},
		{"sep\u2028para\u2029 c1\u0085\u009f end\ufffe\uffff", "\"sep\u2028para\u2029 c1\u0085\u009f end\ufffe\uffff\""},
		{"smile \U0001F600", `"smile \uD83D\uDE00"`},
		{"bad \xff utf-8 \xe2\x82", "\"bad \uFFFD utf-8 \uFFFD\uFFFD\""},
	} {
		if got := string(AppendString([]byte("x"), c.in)); got != "x"+c.want {
			t.Errorf("AppendString(%q) = %s, want x%s", c.in, got, c.want)
		}
	}
}
