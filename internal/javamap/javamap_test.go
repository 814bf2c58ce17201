package javamap

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// testdata/hashmap-order.txt is what JDK 17's HashMap does
// (testdata/HashMapOrder.java): keys put one by one into new HashMap<>(),
// and new HashMap<>(m) of a LinkedHashMap, for 1 to 97 keys.
func TestOrderMatchesJDK(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/hashmap-order.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			t.Fatalf("hashmap-order.txt:%d: %d fields", line, len(fields))
		}
		var put, want []string
		if err := json.Unmarshal([]byte(fields[1]), &put); err != nil {
			t.Fatalf("hashmap-order.txt:%d: %v", line, err)
		}
		if err := json.Unmarshal([]byte(fields[2]), &want); err != nil {
			t.Fatalf("hashmap-order.txt:%d: %v", line, err)
		}
		var capacity int
		switch fields[0] {
		case "grown":
			capacity = GrownCapacity(len(put))
		case "copy":
			capacity = CopyCapacity(len(put))
		default:
			t.Fatalf("hashmap-order.txt:%d: kind %q", line, fields[0])
		}
		counts[fields[0]]++
		hashes := make([]int32, len(put))
		for i, k := range put {
			hashes[i] = StringHash(k)
		}
		var got []string
		for _, i := range Order(hashes, capacity) {
			got = append(got, put[i])
		}
		if !slices.Equal(got, want) {
			t.Errorf("hashmap-order.txt:%d %s of %d keys (%d buckets):\n got %q\nwant %q", line, fields[0], len(put), capacity, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if counts["grown"] < 100 || counts["copy"] < 100 {
		t.Errorf("hashmap-order.txt has %v lines", counts)
	}
}

func TestCapacities(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ n, grown, copied int }{
		{0, 16, 16}, {1, 16, 2}, {2, 16, 4}, {3, 16, 8}, {5, 16, 8}, {6, 16, 16}, {7, 16, 16},
		{11, 16, 16}, {12, 16, 32}, {13, 32, 32}, {24, 32, 64}, {25, 64, 64}, {48, 64, 128}, {49, 128, 128},
	} {
		if got := GrownCapacity(c.n); got != c.grown {
			t.Errorf("GrownCapacity(%d) = %d, want %d", c.n, got, c.grown)
		}
		if got := CopyCapacity(c.n); got != c.copied {
			t.Errorf("CopyCapacity(%d) = %d, want %d", c.n, got, c.copied)
		}
	}
}

// Java's "...".hashCode(), printed by JDK 17.
func TestStringHash(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int32{
		"": 0, "a": 97, "Aa": 2112, "BB": 2112, "connector.class": -862495593, "café": 3045921,
		"\U0001F600": 1772899, "smile \U0001F600 €": -565754041, "polygenelubricants": -2147483648,
	} {
		if got := StringHash(s); got != want {
			t.Errorf("StringHash(%q) = %d, want %d", s, got, want)
		}
	}
}
