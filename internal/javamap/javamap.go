// Package javamap reproduces the bytes Java writes for a map of strings:
// the order in which a java.util.HashMap iterates its keys, and the compact
// JSON text Jackson (Kafka Connect's JsonConverter) gives a Java string.
// Kafka Connect's internal topics and FileStreamSink's output are both made
// of these, and Ferry must write them byte for byte.
//
// A HashMap keeps its entries in a table of buckets, a power of two of
// them; a key's bucket is its spread hash code (h ^ h>>>16) modulo the
// table size, and iteration goes bucket by bucket and, within a bucket, in
// put order (a resize splits a bucket's list keeping that order). So the
// iteration order is a stable sort of the put order by bucket (Order), and
// what differs between maps is the table size (GrownCapacity,
// CopyCapacity).
//
// HashMap departs from this only when 9 or more keys share one bucket: it
// then doubles a table smaller than 64 early, or turns the bucket into a
// tree that iterates in another order. Keys crafted to collide show that;
// no real configuration does, and Ferry does not follow it there.
package javamap

import (
	"cmp"
	"slices"
	"unicode/utf16"
)

// StringHash is Java's String.hashCode: s as UTF-16 code units u, summed
// as h = 31*h + u. Bytes that are not UTF-8 count as U+FFFD, which is what
// Java's decoders make of them.
func StringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*(31*h+r1) + r2
			continue
		}
		h = 31*h + r
	}
	return h
}

// GrownCapacity is the table size of a HashMap made with new HashMap<>()
// after n distinct keys were put: 16 buckets, doubled each time the map
// holds more than 0.75 keys per bucket.
func GrownCapacity(n int) int {
	c := 16
	for n > c/4*3 {
		c *= 2
	}
	return c
}

// CopyCapacity is the table size of new HashMap<>(m) when m holds n keys,
// as JDK 17 sizes it (HashMap.putMapEntries: tableSizeFor((int)(n/0.75f +
// 1))), which can be smaller than 16: 8 buckets for 5 keys. JDK 19 and
// later size the copy by ceil(n/0.75) instead (JDK-8281631), which differs
// when n is 3 times a power of two: JDK 17 gives 6 keys 16 buckets, JDK 19
// 8. Kafka Connect 4.1 runs on both; the reference cluster Ferry's tests
// were taken from ran JDK 17.
func CopyCapacity(n int) int {
	if n == 0 {
		// An empty copy allocates no table; its first put makes the
		// default 16.
		return 16
	}
	t := int(float32(n)/0.75 + 1)
	c := 1
	for c < t {
		c *= 2
	}
	return c
}

// Order returns the order in which a HashMap whose table has capacity
// buckets iterates distinct keys with these hash codes, put in the order
// given: the indexes of hashes, bucket by bucket and in put order within
// a bucket. capacity must be a power of two.
func Order(hashes []int32, capacity int) []int {
	order := make([]int, len(hashes))
	for i := range order {
		order[i] = i
	}
	mask := uint32(capacity - 1)
	bucket := func(i int) uint32 {
		h := uint32(hashes[i])
		return (h ^ h>>16) & mask
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(bucket(i), bucket(j)) })
	return order
}
