package kafka

import "testing"

// Values from Kafka's UtilsTest.testMurmur2 and the Java producer's
// BuiltInPartitioner (murmur2 & 0x7fffffff) % n.
func TestMurmur2MatchesKafka(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		if got := int32(murmur2([]byte(tc.in))); got != tc.want {
			t.Errorf("murmur2(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	if p := Partition([]byte("21"), 10); p < 0 || p >= 10 {
		t.Errorf("Partition out of range: %d", p)
	}
}
