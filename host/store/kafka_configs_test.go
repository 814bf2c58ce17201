package store

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/broker"
	"github.com/ferry-connect/ferry/host/kafka"
)

// The Kafka-backed stores' tests run against FERRY_TEST_BOOTSTRAP when it
// is set (Apache Kafka: scripts/kafka start), else against one embedded
// broker that the package's tests share; each test has topics of its own.

var embedded struct {
	once sync.Once
	dir  string
	b    *broker.Broker
	err  error
}

func TestMain(m *testing.M) {
	// The Kafka tests spend their time waiting for the broker, not on a
	// CPU: unless -parallel says otherwise, run more of them at once
	// than the default GOMAXPROCS (2 on CI's machine).
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", strconv.Itoa(max(8, runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	if embedded.b != nil {
		embedded.b.Close()
	}
	if embedded.dir != "" {
		os.RemoveAll(embedded.dir)
	}
	os.Exit(code)
}

// testBootstrap returns the bootstrap.servers of the broker to test on.
func testBootstrap(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("FERRY_TEST_BOOTSTRAP"); b != "" {
		return b
	}
	embedded.once.Do(func() {
		if embedded.dir, embedded.err = os.MkdirTemp("", "ferry-store-test-"); embedded.err == nil {
			embedded.b, embedded.err = broker.Start(embedded.dir, 0)
		}
	})
	if embedded.err != nil {
		t.Fatal(embedded.err)
	}
	return embedded.b.Addr()
}

var topicSeq atomic.Int64

// testSpec returns a topic of the test's own.
func testSpec(t *testing.T, partitions int) kafka.TopicSpec {
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return kafka.TopicSpec{
		Name:       fmt.Sprintf("ferry-%s-%d-%d", name, time.Now().UnixNano()%1e9, topicSeq.Add(1)),
		Partitions: partitions, ReplicationFactor: -1,
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// logBuffer keeps what a store logs, for tests that look for it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testOptions returns options for a store of worker clientID; its log
// goes to logs if not nil.
func testOptions(t *testing.T, clientID string, logs *logBuffer) KafkaOptions {
	opts := KafkaOptions{Bootstrap: testBootstrap(t), ClientID: clientID}
	if logs != nil {
		opts.Log = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	}
	return opts
}

// sendRaw writes records as another client would: key, value pairs, the
// value "NULL" for a tombstone.
func sendRaw(t *testing.T, spec kafka.TopicSpec, kv ...string) {
	t.Helper()
	ctx := testCtx(t)
	l, err := kafka.OpenLog(ctx, testBootstrap(t), "test-raw", spec, nil, func(kafka.LogRecord) {})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < len(kv); i += 2 {
		var value []byte
		if kv[i+1] != "NULL" {
			value = []byte(kv[i+1])
		}
		if err := l.Send(ctx, []byte(kv[i]), value); err != nil {
			t.Fatal(err)
		}
	}
}

// readRaw returns every record of the topic.
func readRaw(t *testing.T, spec kafka.TopicSpec) []kafka.LogRecord {
	t.Helper()
	var recs []kafka.LogRecord
	l, err := kafka.OpenLog(testCtx(t), testBootstrap(t), "test-raw", spec, nil, func(r kafka.LogRecord) { recs = append(recs, r) })
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return recs
}

// sendGolden writes the records of topic in testdata's Kafka Connect
// cluster (loadGolden) to spec's topic, and returns how many.
func sendGolden(t *testing.T, spec kafka.TopicSpec, topic string) int {
	t.Helper()
	var kv []string
	for _, r := range loadGolden(t)[topic] {
		v := "NULL"
		if r.value != nil {
			v = string(r.value)
		}
		kv = append(kv, string(r.key), v)
	}
	sendRaw(t, spec, kv...)
	return len(kv) / 2
}

// lastValue returns the value of key's last record in recs.
func lastValue(t *testing.T, recs []kafka.LogRecord, key string) string {
	t.Helper()
	for i := len(recs) - 1; i >= 0; i-- {
		if string(recs[i].Key) == key {
			if recs[i].Value == nil {
				return "NULL"
			}
			return string(recs[i].Value)
		}
	}
	t.Fatalf("no record of key %q", key)
	return ""
}

// eventually polls cond until it holds, or fails the test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func openConfigs(t *testing.T, spec kafka.TopicSpec, logs *logBuffer, onChange func()) *KafkaConfigs {
	t.Helper()
	s, err := OpenKafkaConfigs(testCtx(t), testOptions(t, "worker", logs), spec, onChange)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func wantConnector(t *testing.T, s *KafkaConfigs, name string, want Connector) {
	t.Helper()
	got, ok := s.Get(name)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Get(%q) = %+v, %v; want %+v", name, got, ok, want)
	}
}

// A worker's writes are what a second worker reads, in Kafka Connect's
// bytes.
func TestKafkaConfigsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	spec := testSpec(t, 1)
	var changes atomic.Int64
	a := openConfigs(t, spec, nil, nil)
	b := openConfigs(t, spec, nil, func() { changes.Add(1) })

	config := sinkConfig.Map()
	tasks := []map[string]string{sinkTask.Map(), {"task.class": "T", "id": "1"}}
	if err := a.PutConnector(ctx, "file-sink", config); err != nil {
		t.Fatal(err)
	}
	if err := a.PutTarget(ctx, "file-sink", Paused); err != nil {
		t.Fatal(err)
	}
	if err := a.PutTasks(ctx, "file-sink", tasks); err != nil {
		t.Fatal(err)
	}
	want := Connector{Config: config, Target: Paused, Tasks: tasks}
	wantConnector(t, a, "file-sink", want) // on return
	if err := b.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	wantConnector(t, b, "file-sink", want)
	if got := b.Names(); !reflect.DeepEqual(got, []string{"file-sink"}) {
		t.Errorf("Names = %v", got)
	}
	if a.Offset() != 5 || b.Offset() != 5 || changes.Load() != 5 {
		t.Errorf("offsets %d and %d, %d changes; want 5, 5, 5", a.Offset(), b.Offset(), changes.Load())
	}
	// Get hands out copies.
	got, _ := a.Get("file-sink")
	got.Config["name"], got.Tasks[0]["x"] = "changed", "y"
	wantConnector(t, a, "file-sink", want)

	// Deleting: tombstones for the config and the target state; the
	// task configs go with the connector, and so does the target state:
	// created again, it is STARTED and has no tasks until it writes some.
	if err := a.RemoveConnector(ctx, "file-sink"); err != nil {
		t.Fatal(err)
	}
	if err := b.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*KafkaConfigs{a, b} {
		if c, ok := s.Get("file-sink"); ok || len(s.Names()) != 0 {
			t.Errorf("after delete: Get = %+v, %v; Names = %v", c, ok, s.Names())
		}
	}
	if err := a.PutConnector(ctx, "file-sink", config); err != nil {
		t.Fatal(err)
	}
	wantConnector(t, a, "file-sink", Connector{Config: config, Target: Started})

	// Stopping: STOPPED and empty task configs.
	if err := a.PutTarget(ctx, "file-sink", Stopped); err != nil {
		t.Fatal(err)
	}
	if err := a.PutTasks(ctx, "file-sink", nil); err != nil {
		t.Fatal(err)
	}
	if err := b.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	wantConnector(t, b, "file-sink", Connector{Config: config, Target: Stopped})

	// The records, as Kafka Connect 4.1 writes them: a task config in
	// HashMap order (TestGoldenTaskConfigOrder), STOPPED as PAUSED for
	// older workers, tombstones.
	recs := readRaw(t, spec)
	for key, want := range map[string]string{
		"task-file-sink-0": `{"properties":{"connector.class":"` + sinkClass + `","file":"/tmp/kc-4.1.1/out.txt",` +
			`"task.class":"org.apache.kafka.connect.file.FileStreamSinkTask","tasks.max":"2","topics":"lines","name":"file-sink"}}`,
		"target-state-file-sink": `{"state":"PAUSED","state.v2":"STOPPED"}`,
		"commit-file-sink":       `{"tasks":0}`,
	} {
		if got := lastValue(t, recs, key); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	tombstones := map[string]bool{}
	for _, r := range recs {
		if r.Value == nil {
			tombstones[string(r.Key)] = true
		}
	}
	if !reflect.DeepEqual(tombstones, map[string]bool{"connector-file-sink": true, "target-state-file-sink": true}) {
		t.Errorf("tombstones %v, want the connector's and its target state's", tombstones)
	}
}

// Task configs apply when their commit is read, and only if the commit's
// ids are all there: after compaction they may not be, and the connector
// has no tasks until a complete commit.
func TestKafkaConfigsTaskCommit(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	spec := testSpec(t, 1)
	sendRaw(t, spec,
		"connector-c", `{"properties":{"name":"c"}}`,
		"task-c-0", `{"properties":{"t":"0"}}`,
		"task-c-1", `{"properties":{"t":"1"}}`)
	s := openConfigs(t, spec, nil, nil)
	wantConnector(t, s, "c", Connector{Config: map[string]string{"name": "c"}, Target: Started}) // not committed
	sendRaw(t, spec, "commit-c", `{"tasks":2}`)
	if err := s.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	committed := Connector{Config: map[string]string{"name": "c"}, Target: Started, Tasks: []map[string]string{{"t": "0"}, {"t": "1"}}}
	wantConnector(t, s, "c", committed)

	// Task 0 of the next set was compacted away.
	sendRaw(t, spec, "task-c-1", `{"properties":{"t":"1b"}}`, "commit-c", `{"tasks":2}`)
	if err := s.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	inconsistent := Connector{Config: map[string]string{"name": "c"}, Target: Started}
	wantConnector(t, s, "c", inconsistent)
	if !s.Inconsistent("c") {
		t.Error("an incomplete commit did not make the connector inconsistent")
	}
	s2 := openConfigs(t, spec, nil, nil)
	wantConnector(t, s2, "c", inconsistent)
	if !s2.Inconsistent("c") {
		t.Error("a worker opened later does not see the connector inconsistent")
	}
	// Writing the task configs again mends it.
	if err := s.PutTasks(ctx, "c", []map[string]string{{"t": "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := s2.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	mended := Connector{Config: map[string]string{"name": "c"}, Target: Started, Tasks: []map[string]string{{"t": "x"}}}
	for _, s := range []*KafkaConfigs{s, s2} {
		wantConnector(t, s, "c", mended)
		if s.Inconsistent("c") {
			t.Error("still inconsistent after a complete commit")
		}
	}

	// A commit for a connector with no config drops its task configs: a
	// later commit cannot apply them.
	sendRaw(t, spec,
		"task-gone-0", `{"properties":{"t":"0"}}`, "commit-gone", `{"tasks":1}`,
		"connector-gone", `{"properties":{}}`, "commit-gone", `{"tasks":1}`)
	if err := s.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	wantConnector(t, s, "gone", Connector{Config: map[string]string{}, Target: Started})
	if !s.Inconsistent("gone") {
		t.Error("a commit found task configs dropped by an earlier commit")
	}

	// A target state may come before its connector's config (a create
	// with initial_state writes it first); a connector's tombstone drops
	// its target state even without the target state's tombstone.
	sendRaw(t, spec,
		"target-state-p", `{"state":"PAUSED","state.v2":"PAUSED"}`, "connector-p", `{"properties":{}}`,
		"target-state-q", `{"state":"PAUSED","state.v2":"PAUSED"}`, "connector-q", `{"properties":{}}`,
		"task-q-0", `{"properties":{}}`, "commit-q", `{"tasks":1}`,
		"connector-q", "NULL", "connector-q", `{"properties":{}}`)
	if err := s.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	wantConnector(t, s, "p", Connector{Config: map[string]string{}, Target: Paused})
	wantConnector(t, s, "q", Connector{Config: map[string]string{}, Target: Started})
}

// Records of unknown keys, records that do not decode, and the kinds Ferry
// does not use are skipped, and counted in the config offset as Kafka
// Connect counts them.
func TestKafkaConfigsSkipsRecords(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	spec := testSpec(t, 1)
	var logs logBuffer
	s := openConfigs(t, spec, &logs, nil)
	sendRaw(t, spec,
		"connector-c", `{"properties":{"name":"c"}}`,
		"bogus-key", `{"a":1}`,
		"connector-bad", `{"properties":"x"}`,
		"task-c-x", `{"properties":{}}`,
		"task-c-0", "NULL",
		"target-state-c", `{"state":"RUNNING"}`,
		"session-key", `{"key":"AAAA","algorithm":"HmacSHA256","creation-timestamp":1}`,
		"tasks-fencing-c", `{"task-count":1}`,
		"logger-cluster-org.example", `{"level":"DEBUG"}`,
		"target-state-c", `{"state":"PAUSED","state.v2":"STOPPED"}`,
	)
	if err := s.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	wantConnector(t, s, "c", Connector{Config: map[string]string{"name": "c"}, Target: Stopped})
	if got := s.Names(); !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("Names = %v", got)
	}
	if s.Offset() != 10 {
		t.Errorf("Offset = %d, want 10", s.Offset())
	}
	// A value that is not JSON does not move the offset: Kafka Connect's
	// converter fails before it counts the record.
	sendRaw(t, spec, "connector-d", `{not json`)
	if err := s.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Offset() != 10 {
		t.Errorf("Offset = %d after a record that is not JSON, want 10", s.Offset())
	}
	for _, key := range []string{"bogus-key", "connector-bad", "task-c-x", "target-state-c", "connector-d"} {
		if !strings.Contains(logs.String(), key) {
			t.Errorf("nothing logged for the record %q; log:\n%s", key, logs.String())
		}
	}
}

// Restart requests read after open reach Restarts, on every worker; those
// in the topic before are history.
func TestKafkaConfigsRestarts(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	spec := testSpec(t, 1)
	a := openConfigs(t, spec, nil, nil)
	if err := a.RequestRestart(ctx, "old", false, false); err != nil {
		t.Fatal(err)
	}
	b := openConfigs(t, spec, nil, nil)
	if err := a.RequestRestart(ctx, "c", true, true); err != nil {
		t.Fatal(err)
	}
	receive := func(s *KafkaConfigs) RestartRequest {
		t.Helper()
		select {
		case r := <-s.Restarts():
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("no restart request")
			return RestartRequest{}
		}
	}
	want := RestartRequest{Connector: "c", IncludeTasks: true, OnlyFailed: true}
	if got := receive(b); got != want {
		t.Errorf("second worker got %+v, want %+v", got, want)
	}
	if got := receive(a); got != (RestartRequest{Connector: "old"}) {
		t.Errorf("writer got %+v first, want its first request", got)
	}
	if got := receive(a); got != want {
		t.Errorf("writer got %+v, want %+v", got, want)
	}
	if got := lastValue(t, readRaw(t, spec), "restart-connector-c"); got != `{"include-tasks":true,"only-failed":true}` {
		t.Errorf("restart record %s", got)
	}
	b.Close()
	if _, ok := <-b.Restarts(); ok {
		t.Error("Restarts still open after Close")
	}
	if err := b.PutConnector(ctx, "c", nil); err == nil {
		t.Error("PutConnector after Close succeeded")
	}
}

// The config topic of a Kafka Connect 4.1.1 cluster (testdata) reads as it
// meant: file-sink deleted, file-src running with its second config.
func TestKafkaConfigsReadsKafkaConnectTopic(t *testing.T) {
	t.Parallel()
	spec := testSpec(t, 1)
	n := sendGolden(t, spec, "connect-configs")
	s := openConfigs(t, spec, nil, nil)
	if got := s.Names(); !reflect.DeepEqual(got, []string{"file-src"}) {
		t.Errorf("Names = %v", got)
	}
	wantConnector(t, s, "file-src", Connector{Config: srcConfig2.Map(), Target: Started, Tasks: []map[string]string{srcTask2.Map()}})
	if s.Offset() != int64(n) {
		t.Errorf("Offset = %d, want %d", s.Offset(), n)
	}
	select {
	case r := <-s.Restarts():
		t.Errorf("a restart request from before open was delivered: %+v", r)
	default:
	}
}
