package store

import (
	"maps"
	"slices"

	"github.com/ferry-connect/ferry/internal/jackson"
	"github.com/ferry-connect/ferry/internal/javamap"
)

// This file and records_*.go are the codec between Go values and the
// records of Kafka Connect's three internal topics (config, status and
// offsets), byte for byte as Kafka Connect 4.1 writes them, so that a Ferry
// cluster can run on the topics of an Apache Kafka Connect cluster. The
// functions are pure: reading and writing the topics is host/kafka's job.
//
// Kafka Connect writes these values with JsonConverter, schemas disabled:
// Jackson's compact JSON, struct fields in their schema's order, maps in
// their iteration order, strings escaped as javamap.AppendJSONString says.
// Decoding then encoding a record Kafka Connect wrote gives back its bytes
// (the golden tests hold every record of a real 4.1.1 cluster and of Kafka
// Connect's own serialisers). The exceptions, all for values Kafka Connect
// itself does not write:
//
//   - an empty or JSON null value reads as a tombstone, as in Kafka
//     Connect, and encodes as one (a nil value);
//   - members Ferry does not know are ignored, and not written back;
//   - a record without state.v2, or with trace/version missing, is
//     written back with them (as 4.1 writes it);
//   - an empty trace, version or worker_id and a null one are the same Go
//     value: "" encodes as null for trace and version, as "" for worker_id;
//   - an escaped lone surrogate reads as U+FFFD;
//   - numbers, base64 and task ids are written canonically ("-0", "007"
//     and unpadded base64 are read, not reproduced).
//
// Decoders are stricter than Kafka Connect on types it never writes: where
// Java would log a record and skip or default it, they return an error
// naming the key, which the caller logs before skipping the record. Keys
// they do not know are no error (ConfigUnknown, StatusUnknown): Kafka
// Connect skips them too, and a newer Kafka Connect may write more kinds.

// Property is one entry of a connector's or task's config.
type Property struct {
	Key   string
	Value string
	// Null says the value is JSON null. Kafka Connect's schema allows
	// it (a config PUT with "key": null stores one); Value is then "".
	Null bool
}

// Properties is a connector's or task's config in the order of its
// record's JSON object, which is how a record re-encodes byte for byte.
// Kafka Connect writes a connector config in the order of the REST
// request's JSON (Jackson's LinkedHashMap, "name" last if the request had
// none) and a task config in java.util.HashMap's order (TaskConfigOrder).
// A repeated key is not written twice by Kafka Connect and not read twice
// here: the last value wins, in the first place.
type Properties []Property

// PropertiesOf returns m's entries sorted by key. A Go map has no order of
// its own; where the user's order is known (a REST request's JSON), build
// the Properties in that order instead, as Kafka Connect keeps it.
func PropertiesOf(m map[string]string) Properties {
	p := make(Properties, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p = append(p, Property{Key: k, Value: m[k]})
	}
	return p
}

// Map returns the config as a map. Null values are left out: Ferry's
// configs have no null, and Kafka Connect's REST API drops null keys on
// PATCH.
func (p Properties) Map() map[string]string {
	m := make(map[string]string, len(p))
	for _, e := range p {
		if !e.Null {
			m[e.Key] = e.Value
		} else {
			delete(m, e.Key)
		}
	}
	return m
}

// TaskConfigOrder returns a task config in the order Kafka Connect 4.1 on
// JDK 17 writes it to the config topic. connectorTask is the config the
// connector returned for the task, in the order its map iterates or the
// order its keys were put (the connector config's order, for connectors
// such as FileStream* that hand their own config to their tasks); then the
// worker puts workerPuts (task.class, and for a sink the connector's
// topics or topics.regex): a key already there keeps its place and takes
// the new value.
//
// The order is that of the chain of java.util.HashMaps the config goes
// through (Worker.connectorTaskConfigs, AbstractHerder.reverseTransform):
//
//	connector's map:  put one by one into new HashMap<>()     (16 buckets and up)
//	worker's copy:    new HashMap<>(connector's), then put workerPuts
//	herder's copy:    new HashMap<>(worker's)                 (what is written)
//
// each iterating bucket by bucket and, within a bucket, in the order the
// previous map gave (javamap). The herder's copy sizes the table from the
// key count (javamap.CopyCapacity), so a 5-key task config has 8 buckets.
// Within one bucket the order is the one the connector's keys came in,
// which Kafka Connect gets from the REST request: it is reproduced only if
// connectorTask carries it (PropertiesOf sorts).
func TaskConfigOrder(connectorTask Properties, workerPuts ...Property) Properties {
	p := slices.Clone(connectorTask)
	p = hashMapOrder(p, javamap.GrownCapacity(len(p)))
	capacity := javamap.CopyCapacity(len(p))
	p = hashMapOrder(p, capacity)
	for _, put := range workerPuts {
		if i := slices.IndexFunc(p, func(e Property) bool { return e.Key == put.Key }); i >= 0 {
			p[i] = put
			continue
		}
		p = append(p, put)
		// HashMap.putVal links the entry into its bucket, then resizes
		// once the map holds more than 0.75 entries per bucket; a resize
		// keeps each bucket's order.
		for len(p) > capacity*3/4 {
			capacity *= 2
		}
		p = hashMapOrder(p, capacity)
	}
	return hashMapOrder(p, javamap.CopyCapacity(len(p)))
}

// hashMapOrder returns p in the order a HashMap with capacity buckets,
// given p's entries in order, iterates them.
func hashMapOrder(p Properties, capacity int) Properties {
	hashes := make([]int32, len(p))
	for i, e := range p {
		hashes[i] = javamap.StringHash(e.Key)
	}
	out := make(Properties, 0, len(p))
	for _, i := range javamap.Order(hashes, capacity) {
		out = append(out, p[i])
	}
	return out
}

// appendProperties appends p as a JSON object.
func appendProperties(b []byte, p Properties) []byte {
	b = append(b, '{')
	for i, e := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = jackson.AppendString(b, e.Key)
		b = append(b, ':')
		if e.Null {
			b = append(b, "null"...)
		} else {
			b = jackson.AppendString(b, e.Value)
		}
	}
	return append(b, '}')
}

// appendOptionalString appends s as a JSON string, or null if it is empty.
func appendOptionalString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jackson.AppendString(b, s)
}
