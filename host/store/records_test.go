package store

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// kcRecord is one record of a topic, from testdata.
type kcRecord struct {
	where string // file:line, for messages
	topic string // connect-configs, connect-status, connect-offsets
	key   []byte
	value []byte // nil: tombstone
}

// loadGolden reads testdata/kc-internal-topics-4.1.txt: the records a real
// Kafka Connect 4.1.1 cluster wrote, as kc-internal-topics-4.1.md lists
// them ("p0 o3 key=... | value=...", NULL for a tombstone).
func loadGolden(tb testing.TB) map[string][]kcRecord {
	tb.Helper()
	const file = "testdata/kc-internal-topics-4.1.txt"
	f, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	out := map[string][]kcRecord{}
	topic := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## topic "):
			topic = strings.Fields(line)[2]
			continue
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		}
		where := fmt.Sprintf("%s:%d", file, n)
		_, rest, ok1 := strings.Cut(line, " key=")
		key, value, ok2 := strings.Cut(rest, " | value=")
		if !ok1 || !ok2 || topic == "" {
			tb.Fatalf("%s: cannot parse %q", where, line)
		}
		r := kcRecord{where: where, topic: topic, key: []byte(key)}
		if value != "NULL" {
			r.value = []byte(value)
		}
		out[topic] = append(out[topic], r)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// loadKafkaRecords reads testdata/kafka-records.txt: records Kafka Connect
// 4.1.1's own serialisers made (testdata/KafkaRecords.java).
func loadKafkaRecords(tb testing.TB) map[string][]kcRecord {
	tb.Helper()
	const file = "testdata/kafka-records.txt"
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]kcRecord{}
	for n, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", file, n+1)
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			tb.Fatalf("%s: %d fields", where, len(f))
		}
		r := kcRecord{where: where, topic: f[0]}
		if r.key, err = base64.StdEncoding.DecodeString(f[1]); err != nil {
			tb.Fatalf("%s: %v", where, err)
		}
		if f[2] != "-" {
			if r.value, err = base64.StdEncoding.DecodeString(f[2]); err != nil {
				tb.Fatalf("%s: %v", where, err)
			}
		}
		out[r.topic] = append(out[r.topic], r)
	}
	return out
}

// props builds Properties from key, value pairs.
func props(kv ...string) Properties {
	p := Properties{}
	for i := 0; i < len(kv); i += 2 {
		p = append(p, Property{Key: kv[i], Value: kv[i+1]})
	}
	return p
}

const (
	srcClass  = "org.apache.kafka.connect.file.FileStreamSourceConnector"
	sinkClass = "org.apache.kafka.connect.file.FileStreamSinkConnector"
	dir       = "/tmp/kc-4.1.1"
)

var (
	srcConfig1 = props("connector.class", srcClass, "file", "/data/in.txt", "topic", "lines",
		"topic.creation.default.replication.factor", "1", "topic.creation.default.partitions", "1",
		"database.password", "${file:/secrets.properties:pw}", "name", "file-src")
	srcTask1 = props("connector.class", srcClass, "file", "/data/in.txt", "topic.creation.default.partitions", "1",
		"task.class", "org.apache.kafka.connect.file.FileStreamSourceTask", "database.password", "${file:/secrets.properties:pw}",
		"topic.creation.default.replication.factor", "1", "name", "file-src", "topic", "lines")
	srcConfig2 = props("connector.class", srcClass, "file", dir+"/in.txt", "topic", "lines",
		"topic.creation.default.replication.factor", "1", "topic.creation.default.partitions", "1", "name", "file-src")
	srcTask2 = props("connector.class", srcClass, "file", dir+"/in.txt", "topic.creation.default.partitions", "1",
		"task.class", "org.apache.kafka.connect.file.FileStreamSourceTask", "topic.creation.default.replication.factor", "1",
		"name", "file-src", "topic", "lines")
	sinkConfig = props("connector.class", sinkClass, "file", dir+"/out.txt", "topics", "lines", "tasks.max", "2", "name", "file-sink")
	sinkTask   = props("connector.class", sinkClass, "file", dir+"/out.txt", "task.class", "org.apache.kafka.connect.file.FileStreamSinkTask",
		"topics", "lines", "tasks.max", "2", "name", "file-sink")
)

// goldenSessionKey is the key substituted for the golden file's placeholder.
func goldenSessionKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i*37 + 11)
	}
	return k
}

// Every config record of the 4.1.1 cluster decodes to what it means and
// encodes back to its bytes.
func TestGoldenConfigRecords(t *testing.T) {
	t.Parallel()
	recs := loadGolden(t)["connect-configs"]
	want := []ConfigRecord{
		{Kind: ConfigSessionKey, SessionKey: SessionKey{Key: goldenSessionKey(), Algorithm: "HmacSHA256", Created: 1796177893710}},
		{Kind: ConfigConnector, Name: "file-src", Properties: srcConfig1},
		{Kind: ConfigTask, Name: "file-src", Task: 0, Properties: srcTask1},
		{Kind: ConfigCommit, Name: "file-src", Tasks: 1},
		{Kind: ConfigConnector, Name: "file-src", Properties: srcConfig2},
		{Kind: ConfigTask, Name: "file-src", Task: 0, Properties: srcTask2},
		{Kind: ConfigCommit, Name: "file-src", Tasks: 1},
		{Kind: ConfigConnector, Name: "file-sink", Properties: sinkConfig},
		{Kind: ConfigTask, Name: "file-sink", Task: 0, Properties: sinkTask},
		{Kind: ConfigTask, Name: "file-sink", Task: 1, Properties: sinkTask},
		{Kind: ConfigCommit, Name: "file-sink", Tasks: 2},
		{Kind: ConfigTargetState, Name: "file-src", Target: Paused},
		{Kind: ConfigTargetState, Name: "file-src", Target: Started},
		{Kind: ConfigCommit, Name: "file-sink", Tasks: 0},
		{Kind: ConfigTargetState, Name: "file-sink", Target: Stopped},
		{Kind: ConfigRestart, Name: "file-src", IncludeTasks: true, OnlyFailed: false},
		{Kind: ConfigTargetState, Name: "file-sink", Target: Started},
		{Kind: ConfigTask, Name: "file-sink", Task: 0, Properties: sinkTask},
		{Kind: ConfigTask, Name: "file-sink", Task: 1, Properties: sinkTask},
		{Kind: ConfigCommit, Name: "file-sink", Tasks: 2},
		{Kind: ConfigLoggerLevel, Name: "org.apache.kafka.connect.runtime", Level: "DEBUG"},
		{Kind: ConfigConnector, Name: "file-sink", Tombstone: true},
		{Kind: ConfigTargetState, Name: "file-sink", Tombstone: true},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d config records in the golden file, want %d", len(recs), len(want))
	}
	for i, rec := range recs {
		got, err := DecodeConfigRecord(string(rec.key), rec.value)
		if err != nil {
			t.Errorf("%s: %v", rec.where, err)
			continue
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", rec.where, got, want[i])
		}
		key, value, err := EncodeConfigRecord(got)
		if err != nil {
			t.Errorf("%s: encode: %v", rec.where, err)
			continue
		}
		if key != string(rec.key) || !bytes.Equal(value, rec.value) || (value == nil) != (rec.value == nil) {
			t.Errorf("%s: encoded\n%s | %s\nwant\n%s | %s", rec.where, key, value, rec.key, rec.value)
		}
	}
}

// Status lines of the golden file, in a compact form: c(onnector) or
// t(ask) name [task] state generation version ("-": null), or a tombstone
// (X), or a topic record (topic name connector task timestamp).
var goldenStatuses = strings.Split(strings.TrimSpace(`
c file-src RUNNING 2 4.1.1
t file-src 0 RUNNING 3 4.1.1
c file-src UNASSIGNED 3 -
c file-src RUNNING 3 4.1.1
t file-src 0 UNASSIGNED 3 -
t file-src 0 RUNNING 4 4.1.1
t file-sink 0 RUNNING 6 4.1.1
c file-src PAUSED 6 4.1.1
t file-src 0 PAUSED 6 4.1.1
c file-src RUNNING 6 4.1.1
t file-src 0 RUNNING 6 4.1.1
t file-sink 0 UNASSIGNED 6 -
t file-sink 0 X
c file-src UNASSIGNED 8 4.1.1
c file-src RESTARTING 8 -
t file-src 0 UNASSIGNED 8 -
t file-src 0 RESTARTING 8 -
c file-src RUNNING 8 4.1.1
t file-src 0 RUNNING 8 4.1.1
t file-sink 0 RUNNING 9 4.1.1
t file-sink 0 UNASSIGNED 9 -
t file-sink 0 X
t file-sink 0 X
c file-sink RUNNING 5 4.1.1
t file-sink 1 RUNNING 6 4.1.1
topic lines file-sink 0 1796177896657
topic lines file-sink 0 1796177896658
topic lines file-sink 0 1796177896664
topic lines file-sink 0 1796177896665
topic lines file-sink 0 1796177896673
c file-sink STOPPED 6 4.1.1
t file-sink 1 UNASSIGNED 6 -
t file-sink 1 X
c file-sink RUNNING 8 4.1.1
t file-sink 1 RUNNING 9 4.1.1
c file-sink UNASSIGNED 9 -
t file-sink 1 UNASSIGNED 9 -
topic lines file-sink X
topic lines file-sink X
t file-sink 1 X
c file-sink X
t file-sink 1 X
topic lines file-src 0 1796177896241
topic lines file-src 0 1796177896242
topic lines file-src 0 1796177896246
topic lines file-src 0 1796177896246
topic lines file-src 0 1796177896247
`), "\n")

// statusOf builds the record a goldenStatuses line describes.
func statusOf(t *testing.T, line string) StatusRecord {
	f := strings.Fields(line)
	atoi := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return n
	}
	var r StatusRecord
	switch f[0] {
	case "c":
		r = StatusRecord{Kind: StatusConnector, Connector: f[1]}
		f = f[2:]
	case "t":
		r = StatusRecord{Kind: StatusTask, Connector: f[1], Task: int(atoi(f[2]))}
		f = f[3:]
	case "topic":
		r = StatusRecord{Kind: StatusTopic, Topic: f[1], Connector: f[2]}
		if f[3] == "X" {
			r.Tombstone = true
		} else {
			r.TopicStatus = TopicStatus{Topic: f[1], Connector: f[2], Task: int(atoi(f[3])), Discovered: atoi(f[4])}
		}
		return r
	}
	if f[0] == "X" {
		r.Tombstone = true
		return r
	}
	r.Status = Status{State: f[0], WorkerID: "127.0.0.1:18777", Generation: int32(atoi(f[1]))}
	if f[2] != "-" {
		r.Status.Version = f[2]
	}
	return r
}

func TestGoldenStatusRecords(t *testing.T) {
	t.Parallel()
	recs := loadGolden(t)["connect-status"]
	if len(recs) != len(goldenStatuses) {
		t.Fatalf("%d status records in the golden file, want %d", len(recs), len(goldenStatuses))
	}
	for i, rec := range recs {
		want := statusOf(t, goldenStatuses[i])
		got, err := DecodeStatusRecord(string(rec.key), rec.value)
		if err != nil {
			t.Errorf("%s: %v", rec.where, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", rec.where, got, want)
		}
		key, value, err := EncodeStatusRecord(got)
		if err != nil {
			t.Errorf("%s: encode: %v", rec.where, err)
			continue
		}
		if key != string(rec.key) || !bytes.Equal(value, rec.value) || (value == nil) != (rec.value == nil) {
			t.Errorf("%s: encoded\n%s | %s\nwant\n%s | %s", rec.where, key, value, rec.key, rec.value)
		}
	}
}

func TestGoldenOffsetRecords(t *testing.T) {
	t.Parallel()
	recs := loadGolden(t)["connect-offsets"]
	if len(recs) != 1 {
		t.Fatalf("%d offset records in the golden file, want 1", len(recs))
	}
	rec := recs[0]
	got, err := DecodeOffsetRecord(rec.key, rec.value)
	if err != nil {
		t.Fatal(err)
	}
	want := OffsetRecord{Connector: "file-src", Partition: []byte(`{"filename":"` + dir + `/in.txt"}`), Offset: []byte(`{"position":10}`)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	key, value, err := EncodeOffsetRecord(got)
	if err != nil || !bytes.Equal(key, rec.key) || !bytes.Equal(value, rec.value) {
		t.Errorf("encoded %s | %s (%v), want %s | %s", key, value, err, rec.key, rec.value)
	}
	// The plugin's partition for the same file finds the offset.
	n1, err1 := NormalizeOffsetKey(rec.key)
	n2, err2 := NormalizeOffsetKey(mustKey(t, "file-src", `{"filename":"`+dir+`/in.txt"}`))
	if err1 != nil || err2 != nil || !bytes.Equal(n1, n2) {
		t.Errorf("normalised keys %s (%v) and %s (%v) differ", n1, err1, n2, err2)
	}
}

func mustKey(t *testing.T, connector, partition string) []byte {
	t.Helper()
	k, _, err := EncodeOffsetRecord(OffsetRecord{Connector: connector, Partition: []byte(partition)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Kafka Connect writes a task config in the order of the HashMaps it goes
// through. Given the connector config's order (the REST request's), and
// task.class put by the worker, TaskConfigOrder gives the cluster's task
// records byte for byte. (JDK 19's smaller copy of 6 keys would put name
// next to connector.class in the sink's task.)
func TestGoldenTaskConfigOrder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		connector, task Properties
		taskClass       string
	}{
		{srcConfig1, srcTask1, "org.apache.kafka.connect.file.FileStreamSourceTask"},
		{srcConfig2, srcTask2, "org.apache.kafka.connect.file.FileStreamSourceTask"},
		{sinkConfig, sinkTask, "org.apache.kafka.connect.file.FileStreamSinkTask"},
	} {
		// The worker also puts the connector's topics for a sink: the
		// key is there already, so it keeps its place.
		puts := []Property{{Key: "task.class", Value: c.taskClass}}
		if c.taskClass == "org.apache.kafka.connect.file.FileStreamSinkTask" {
			puts = append(puts, Property{Key: "topics", Value: "lines"})
		}
		got := TaskConfigOrder(c.connector, puts...)
		if !reflect.DeepEqual(got, c.task) {
			t.Errorf("TaskConfigOrder(%v) =\n%v\nwant\n%v", c.connector, got, c.task)
		}
	}
	// From a Go map the order within a bucket is lost: the buckets
	// still come in Java's order.
	got := TaskConfigOrder(PropertiesOf(sinkConfig.Map()), Property{Key: "task.class", Value: "org.apache.kafka.connect.file.FileStreamSinkTask"})
	want := props("connector.class", sinkClass, "file", dir+"/out.txt", "task.class", "org.apache.kafka.connect.file.FileStreamSinkTask",
		"tasks.max", "2", "topics", "lines", "name", "file-sink") // tasks.max and topics share bucket 6
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TaskConfigOrder(sorted) =\n%v\nwant\n%v", got, want)
	}
}

// Records Kafka Connect's own serialisers made, with strings that need
// escaping, null property values, every state and flag: each decodes and
// encodes back to the same bytes.
func TestKafkaRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	all := loadKafkaRecords(t)
	for topic, min := range map[string]int{"config": 40, "status": 50, "offsets": 19} {
		if len(all[topic]) < min {
			t.Errorf("kafka-records.txt has %d %s records, want %d or more", len(all[topic]), topic, min)
		}
	}
	for _, rec := range all["config"] {
		r, err := DecodeConfigRecord(string(rec.key), rec.value)
		if err != nil {
			t.Errorf("%s: %v", rec.where, err)
			continue
		}
		want := rec.value
		if string(rec.key) == "target-state-old" {
			// Written as a worker before 3.5 did, without state.v2:
			// Ferry writes what 4.1 does.
			want = []byte(`{"state":"PAUSED","state.v2":"PAUSED"}`)
		}
		key, value, err := EncodeConfigRecord(r)
		if err != nil || key != string(rec.key) || !bytes.Equal(value, want) {
			t.Errorf("%s: %+v encoded\n%q | %q (%v)\nwant\n%q | %q", rec.where, r, key, value, err, rec.key, want)
		}
	}
	for _, rec := range all["status"] {
		r, err := DecodeStatusRecord(string(rec.key), rec.value)
		if err != nil {
			t.Errorf("%s: %v", rec.where, err)
			continue
		}
		key, value, err := EncodeStatusRecord(r)
		if err != nil || key != string(rec.key) || !bytes.Equal(value, rec.value) {
			t.Errorf("%s: %+v encoded\n%q | %q (%v)\nwant\n%q | %q", rec.where, r, key, value, err, rec.key, rec.value)
		}
	}
	for _, rec := range all["offsets"] {
		r, err := DecodeOffsetRecord(rec.key, rec.value)
		if err != nil {
			t.Errorf("%s: %v", rec.where, err)
			continue
		}
		key, value, err := EncodeOffsetRecord(r)
		if err != nil || !bytes.Equal(key, rec.key) || !bytes.Equal(value, rec.value) {
			t.Errorf("%s: %+v encoded\n%q | %q (%v)\nwant\n%q | %q", rec.where, r, key, value, err, rec.key, rec.value)
		}
	}

	// What some of them mean.
	first, err := DecodeConfigRecord(string(all["config"][0].key), all["config"][0].value)
	if err != nil {
		t.Fatal(err)
	}
	m := first.Properties.Map()
	for k, want := range map[string]string{"k9nul\x00": "nul\x00", "k10unit\x1fsep": "unit\x1fsep", "k14smile \U0001F600": "smile \U0001F600", "name": "my-conn"} {
		if m[k] != want {
			t.Errorf("property %q = %q, want %q", k, m[k], want)
		}
	}
	if _, ok := m["null.value"]; ok || !first.Properties[len(first.Properties)-2].Null {
		t.Errorf("null.value: %+v", first.Properties)
	}
	for _, rec := range all["config"] {
		if string(rec.key) == "target-state-old" {
			if r, _ := DecodeConfigRecord(string(rec.key), rec.value); r.Target != Paused {
				t.Errorf("%s: a record without state.v2 decoded to %q, want PAUSED", rec.where, r.Target)
			}
		}
	}
}

func TestDecodeConfigRecordCases(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key, value string
		want       ConfigRecord
	}{
		{"task-my-conn-with-dashes-12", `{"properties":{}}`, ConfigRecord{Kind: ConfigTask, Name: "my-conn-with-dashes", Task: 12, Properties: Properties{}}},
		{"task-a-1-2", `{"properties":{"x":null}}`, ConfigRecord{Kind: ConfigTask, Name: "a-1", Task: 2, Properties: Properties{{Key: "x", Null: true}}}},
		{"task-a--1", ` {"properties" : {"a":"1","a":"2","b":"3"}} `, ConfigRecord{Kind: ConfigTask, Name: "a-", Task: 1, Properties: props("a", "2", "b", "3")}},
		{"target-state-c", `{"state":"PAUSED"}`, ConfigRecord{Kind: ConfigTargetState, Name: "c", Target: Paused}},
		{"target-state-c", `{"state":"PAUSED","state.v2":null}`, ConfigRecord{Kind: ConfigTargetState, Name: "c", Target: Paused}},
		{"target-state-c", `{"state":"STARTED","state.v2":"STOPPED"}`, ConfigRecord{Kind: ConfigTargetState, Name: "c", Target: Stopped}},
		{"target-state-c", `{"state.v2":"STARTED","extra":[1,{"x":true}]}`, ConfigRecord{Kind: ConfigTargetState, Name: "c", Target: Started}},
		{"commit-c", `null`, ConfigRecord{Kind: ConfigCommit, Name: "c", Tombstone: true}},
		{"commit-c", ``, ConfigRecord{Kind: ConfigCommit, Name: "c", Tombstone: true}},
		{"session-key", `{"key":"AAE","algorithm":"HmacSHA1","creation-timestamp":-5}`, ConfigRecord{Kind: ConfigSessionKey, SessionKey: SessionKey{Key: []byte{0, 1}, Algorithm: "HmacSHA1", Created: -5}}},
		{"connector-c", `{"properties":{"k":"\u00e9\ud83d\ude00\/\u0041"}}`, ConfigRecord{Kind: ConfigConnector, Name: "c", Properties: props("k", "é\U0001F600/A")}},
		{"connector-c", `{"properties":{"k":"\ud800x\udc00\ud800\u0041"}}`, ConfigRecord{Kind: ConfigConnector, Name: "c", Properties: props("k", "\uFFFDx\uFFFD\uFFFDA")}},
		// Keys Kafka Connect does not know, or skips: no error.
		{"offsets-c", `not even JSON`, ConfigRecord{Kind: ConfigUnknown, Name: "offsets-c"}},
		{"", ``, ConfigRecord{Kind: ConfigUnknown}},
		{"target-state", `{}`, ConfigRecord{Kind: ConfigUnknown, Name: "target-state"}},
		{"session-keys", `{}`, ConfigRecord{Kind: ConfigUnknown, Name: "session-keys"}},
	} {
		got, err := DecodeConfigRecord(c.key, []byte(c.value))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeConfigRecord(%q, %s) = %+v, %v; want %+v", c.key, c.value, got, err, c.want)
		}
	}
}

// Malformed keys and values: an error that names the key and says what is
// wrong.
func TestDecodeConfigRecordErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ key, value, want string }{
		{"task-file-src", `{"properties":{}}`, "not task-<connector>-<task id>"},
		{"task-file-src-x", `{"properties":{}}`, "not task-<connector>-<task id>"},
		{"task-file-src-01", `{"properties":{}}`, "not task-<connector>-<task id>"},
		{"task-file-src-+1", `{"properties":{}}`, "not task-<connector>-<task id>"},
		{"task-file-src-2147483648", `{"properties":{}}`, "not task-<connector>-<task id>"},
		{"task--0", `{"properties":{}}`, "not task-<connector>-<task id>"},
		{"task-", `{"properties":{}}`, "not task-<connector>-<task id>"},
		{"connector-", `{"properties":{}}`, "no name"},
		{"logger-cluster-", `{"level":"INFO"}`, "no name"},
		{"connector-c", `[]`, "value is an array, not an object"},
		{"connector-c", `"x"`, "value is a string, not an object"},
		{"connector-c", `{}`, `"properties" is missing`},
		{"connector-c", `{"properties":[]}`, `"properties" is an array, not an object`},
		{"connector-c", `{"properties":null}`, `"properties" is null, not an object`},
		{"task-c-0", `{"properties":{"a":1}}`, `property "a" is a number, not a string`},
		{"task-c-0", `{"properties":{"a":{"b":"c"}}}`, `property "a" is an object, not a string`},
		{"connector-c", `{"properties":{}} x`, "content after the JSON value"},
		{"connector-c", `{"properties":{"a":"b"}`, "unexpected end"},
		{"connector-c", "{\"properties\":{\"a\":\"\x01\"}}", "control character"},
		{"connector-c", "{\"properties\":{\"a\":\"\xff\"}}", "invalid UTF-8"},
		{"connector-c", `{"properties":{"a":"\x"}}`, "invalid escape"},
		{"connector-c", `{"properties":{"a":"\u12"}}`, "malformed \\u escape"},
		{"connector-c", `{'properties':{}}`, "expected a member name"},
		{"commit-c", `{"tasks":"1"}`, `"tasks" is a string, not an integer`},
		{"commit-c", `{"tasks":1.0}`, `"tasks" is 1.0, not a 32-bit integer`},
		{"commit-c", `{"tasks":1e2}`, `"tasks" is 1e2, not a 32-bit integer`},
		{"commit-c", `{"tasks":2147483648}`, `"tasks" is 2147483648, not a 32-bit integer`},
		{"commit-c", `{"tasks":-1}`, "negative task count -1"},
		{"commit-c", `{"tasks":01}`, "invalid JSON"},
		{"commit-c", `{}`, `"tasks" is missing`},
		{"tasks-fencing-c", `{"task-count":null}`, `"task-count" is null, not an integer`},
		{"target-state-c", `{"state.v2":"RUNNING"}`, `"state.v2" is "RUNNING", not STARTED, PAUSED or STOPPED`},
		{"target-state-c", `{"state":"paused"}`, `"state" is "paused", not STARTED`},
		{"target-state-c", `{}`, `"state" is missing`},
		{"target-state-c", `{"state":5}`, `"state" is a number, not a string`},
		{"target-state-c", `{"state":"PAUSED","state.v2":7}`, `"state.v2" is a number, not a string`},
		{"restart-connector-c", `{"include-tasks":"true","only-failed":false}`, `"include-tasks" is a string, not a boolean`},
		{"restart-connector-c", `{"include-tasks":true}`, `"only-failed" is missing`},
		{"session-key", `{"key":"!!","algorithm":"HmacSHA256","creation-timestamp":1}`, `"key" is not base64`},
		{"session-key", `{"key":"AA==","creation-timestamp":1}`, `"algorithm" is missing`},
		{"session-key", `{"key":"AA==","algorithm":"HmacSHA256","creation-timestamp":1.5}`, `"creation-timestamp" is 1.5, not a 64-bit integer`},
		{"session-key", `{"key":"AA==","algorithm":"HmacSHA256","creation-timestamp":9223372036854775808}`, "not a 64-bit integer"},
		{"logger-cluster-org.apache", `{"level":null}`, `"level" is null, not a string`},
		{"logger-cluster-org.apache", `{"level":"DEBUG"`, "unexpected end"},
	} {
		_, err := DecodeConfigRecord(c.key, []byte(c.value))
		if err == nil {
			t.Errorf("DecodeConfigRecord(%q, %s) took it", c.key, c.value)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(c.key)) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeConfigRecord(%q, %s) = %q; want the key and %q", c.key, c.value, err, c.want)
		}
	}
}

func TestDecodeStatusRecordCases(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key, value string
		want       StatusRecord
	}{
		// Written before Kafka Connect 4.1: no version.
		{"status-connector-c", `{"state":"RUNNING","trace":null,"worker_id":"w:8083","generation":5}`,
			StatusRecord{Kind: StatusConnector, Connector: "c", Status: Status{State: StateRunning, WorkerID: "w:8083", Generation: 5}}},
		{"status-task-my-conn-7", `{"state":"FAILED","trace":"boom\n\tat X","worker_id":null,"generation":-1,"version":"1.0"}`,
			StatusRecord{Kind: StatusTask, Connector: "my-conn", Task: 7, Status: Status{State: StateFailed, Trace: "boom\n\tat X", Generation: -1, Version: "1.0"}}},
		{"status-topic-a.b_c-d:connector-x:y", `{"topic":{"name":"a.b_c-d","connector":"x:y","task":2,"discoverTimestamp":1}}`,
			StatusRecord{Kind: StatusTopic, Topic: "a.b_c-d", Connector: "x:y", TopicStatus: TopicStatus{Topic: "a.b_c-d", Connector: "x:y", Task: 2, Discovered: 1}}},
		{"status-topic-t:connector-c", `null`, StatusRecord{Kind: StatusTopic, Topic: "t", Connector: "c", Tombstone: true}},
		{"status-worker-w", `{}`, StatusRecord{Kind: StatusUnknown, Connector: "status-worker-w"}},
	} {
		got, err := DecodeStatusRecord(c.key, []byte(c.value))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeStatusRecord(%q, %s) = %+v, %v; want %+v", c.key, c.value, got, err, c.want)
		}
	}
	// A 4.0 record is written back as 4.1 writes it.
	r, _ := DecodeStatusRecord("status-connector-c", []byte(`{"state":"RUNNING","trace":null,"worker_id":"w:8083","generation":5}`))
	if _, v, err := EncodeStatusRecord(r); err != nil || string(v) != `{"state":"RUNNING","trace":null,"worker_id":"w:8083","generation":5,"version":null}` {
		t.Errorf("re-encoded a 4.0 status as %s (%v)", v, err)
	}
}

func TestDecodeStatusRecordErrors(t *testing.T) {
	t.Parallel()
	const ok = `{"state":"RUNNING","trace":null,"worker_id":"w","generation":1,"version":null}`
	for _, c := range []struct{ key, value, want string }{
		{"status-connector-", ok, "no connector name"},
		{"status-task-c", ok, "not status-task-<connector>-<task id>"},
		{"status-task-c-x", ok, "not status-task-<connector>-<task id>"},
		{"status-task-c--1", `{}`, `"state" is missing`}, // connector "c-", task 1
		{"status-task--1", ok, "not status-task-<connector>-<task id>"},
		{"status-topic-lines", ok, "not status-topic-<topic>:connector-<connector>"},
		{"status-topic-:connector-c", ok, "not status-topic-<topic>:connector-<connector>"},
		{"status-topic-lines:conn-c", ok, "not status-topic-<topic>:connector-<connector>"},
		{"status-topic-lines:connector-", ok, "no connector name"},
		{"status-connector-c", `[1]`, "value is an array, not an object"},
		{"status-connector-c", `{"trace":null,"worker_id":"w","generation":1}`, `"state" is missing`},
		{"status-connector-c", `{"state":"BOGUS","generation":1}`, `"state" is "BOGUS", not a connector or task state`},
		{"status-connector-c", `{"state":null,"generation":1}`, `"state" is null, not a string`},
		{"status-connector-c", `{"state":"RUNNING"}`, `"generation" is missing`},
		{"status-connector-c", `{"state":"RUNNING","generation":"1"}`, `"generation" is a string, not an integer`},
		{"status-connector-c", `{"state":"RUNNING","generation":1.5}`, `"generation" is 1.5, not a 32-bit integer`},
		{"status-connector-c", `{"state":"RUNNING","generation":2147483648}`, "not a 32-bit integer"},
		{"status-task-c-0", `{"state":"RUNNING","generation":1,"version":411}`, `"version" is a number, not a string or null`},
		{"status-task-c-0", `{"state":"RUNNING","generation":1,"trace":false}`, `"trace" is a boolean, not a string or null`},
		{"status-task-c-0", `{"state":"RUNNING","generation":1,"worker_id":["w"]}`, `"worker_id" is an array, not a string or null`},
		{"status-topic-t:connector-c", `{"topic":"t"}`, `"topic" is a string, not an object`},
		{"status-topic-t:connector-c", `{}`, `"topic" is missing`},
		{"status-topic-t:connector-c", `{"topic":{"name":"t","connector":"c","task":0}}`, `"discoverTimestamp" is missing`},
		{"status-topic-t:connector-c", `{"topic":{"name":"t","connector":"c","task":"0","discoverTimestamp":1}}`, `"task" is a string, not an integer`},
		{"status-topic-t:connector-c", `{"topic":{"connector":"c","task":0,"discoverTimestamp":1}}`, `"name" is missing`},
		{"status-connector-c", `{"state":"RUNNING","generation":1`, "unexpected end"},
	} {
		_, err := DecodeStatusRecord(c.key, []byte(c.value))
		if err == nil {
			t.Errorf("DecodeStatusRecord(%q, %s) took it", c.key, c.value)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(c.key)) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeStatusRecord(%q, %s) = %q; want the key and %q", c.key, c.value, err, c.want)
		}
	}
}

func TestDecodeOffsetRecordErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ key, value, want string }{
		{`"c"`, `{}`, "not a [connector, partition] array"},
		{`["c"]`, `{}`, "not a [connector, partition] array"},
		{`["c",{},1]`, `{}`, "not a [connector, partition] array"},
		{`[1,{}]`, `{}`, "connector is a number, not a string"},
		{`["c",[1]]`, `{}`, "partition is an array, not an object"},
		{`["c","p"]`, `{}`, "partition is a string, not an object"},
		{`["c",{]`, `{}`, "invalid JSON"},
		{``, `{}`, "unexpected end"},
		{`["c",{}]`, `[1]`, "value is an array, not an object"},
		{`["c",{}]`, `7`, "value is a number, not an object"},
		{`["c",{}]`, `{"a":1}x`, "content after the JSON value"},
	} {
		_, err := DecodeOffsetRecord([]byte(c.key), []byte(c.value))
		if err == nil {
			t.Errorf("DecodeOffsetRecord(%s, %s) took it", c.key, c.value)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(c.key)) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeOffsetRecord(%s, %s) = %q; want the key and %q", c.key, c.value, err, c.want)
		}
	}
	// A null partition and a null value: Kafka Connect reads both.
	r, err := DecodeOffsetRecord([]byte(`["c",null]`), []byte(`null`))
	if err != nil || !reflect.DeepEqual(r, OffsetRecord{Connector: "c", Partition: []byte("null")}) {
		t.Errorf("DecodeOffsetRecord([\"c\",null], null) = %+v, %v", r, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	for _, r := range []ConfigRecord{
		{Kind: ConfigUnknown, Name: "x"},
		{Kind: ConfigConnector},
		{Kind: ConfigTask, Name: "c", Task: -1},
		{Kind: ConfigTask, Task: 1},
		{Kind: ConfigCommit, Name: "c", Tasks: -1},
		{Kind: ConfigTaskCount, Name: "c", Tasks: -5},
		{Kind: ConfigTargetState, Name: "c", Target: "RUNNING"},
		{Kind: ConfigTargetState, Name: "c"},
		{Kind: 99, Name: "c"},
	} {
		if k, v, err := EncodeConfigRecord(r); err == nil {
			t.Errorf("EncodeConfigRecord(%+v) = %q, %s", r, k, v)
		}
	}
	for _, r := range []StatusRecord{
		{Kind: StatusUnknown, Connector: "x"},
		{Kind: StatusConnector, Status: Status{State: StateRunning}},
		{Kind: StatusConnector, Connector: "c", Status: Status{State: "BOGUS"}},
		{Kind: StatusConnector, Connector: "c"},
		{Kind: StatusTask, Connector: "c", Task: -1, Status: Status{State: StateRunning}},
		{Kind: StatusTopic, Connector: "c"},
		{Kind: StatusTopic, Connector: "c", Topic: "a:b"},
	} {
		if k, v, err := EncodeStatusRecord(r); err == nil {
			t.Errorf("EncodeStatusRecord(%+v) = %q, %s", r, k, v)
		}
	}
	for _, r := range []OffsetRecord{
		{Connector: "c"},
		{Connector: "c", Partition: []byte(`[1]`)},
		{Connector: "c", Partition: []byte(`{}`), Offset: []byte(`"x"`)},
		{Connector: "c", Partition: []byte(`{}`), Offset: []byte{}},
	} {
		if k, v, err := EncodeOffsetRecord(r); err == nil {
			t.Errorf("EncodeOffsetRecord(%+v) = %s, %s", r, k, v)
		}
	}
}

// Keys Java wrote (members in its map's order, numbers as Long and
// Double) and keys Ferry builds from a plugin's JSON normalise alike.
func TestNormalizeOffsetKey(t *testing.T) {
	t.Parallel()
	same := [][]string{
		{`["c",{"b":1,"a":"x"}]`, `["c",{"a":"x","b":1}]`, ` [ "c" , { "a" : "x" , "b" : 1.0 } ] `, `["c",{"b":10e-1,"a":"\u0078"}]`},
		{`["<&>",{"f":"\u00e9\uD83D\uDE00"}]`, `["\u003c\u0026\u003e",{"f":"é😀"}]`},
		{`["c",{"big":1.0E21,"d":1.5,"n":-0}]`, `["c",{"n":0,"d":15e-1,"big":1e21}]`},
		{`["c",{"x":1,"x":2}]`, `["c",{"x":2}]`},
		{`["c",null]`, `["c", null]`},
	}
	var all [][]byte
	for _, group := range same {
		var first []byte
		for _, k := range group {
			n, err := NormalizeOffsetKey([]byte(k))
			if err != nil {
				t.Fatalf("NormalizeOffsetKey(%s): %v", k, err)
			}
			if first == nil {
				first = n
				all = append(all, n)
			} else if !bytes.Equal(n, first) {
				t.Errorf("NormalizeOffsetKey(%s) = %s, want %s", k, n, first)
			}
		}
	}
	for i := range all {
		for j := range i {
			if bytes.Equal(all[i], all[j]) {
				t.Errorf("different partitions normalise alike: %s", all[i])
			}
		}
	}
	if n, _ := NormalizeOffsetKey([]byte(`["c",{"b":1.5,"a":"x"}]`)); string(n) != `["c",{"a":"x","b":1.5}]` {
		t.Errorf("normal form %s", n)
	}
	for _, k := range []string{`["c",{"a":"x"},]`, `["c"]`} {
		if _, err := NormalizeOffsetKey([]byte(k)); err == nil {
			t.Errorf("NormalizeOffsetKey(%s) took it", k)
		}
	}
}

func TestPropertiesMap(t *testing.T) {
	t.Parallel()
	m := map[string]string{"b": "2", "a": "1", "": "empty"}
	p := PropertiesOf(m)
	if !reflect.DeepEqual(p, props("", "empty", "a", "1", "b", "2")) {
		t.Errorf("PropertiesOf = %v", p)
	}
	if !reflect.DeepEqual(p.Map(), m) {
		t.Errorf("Map = %v", p.Map())
	}
	p = append(p, Property{Key: "a", Null: true}, Property{Key: "n", Null: true})
	if got := p.Map(); !reflect.DeepEqual(got, map[string]string{"b": "2", "": "empty"}) {
		t.Errorf("Map with nulls = %v", got)
	}
}
