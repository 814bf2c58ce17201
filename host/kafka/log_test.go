package kafka

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-connect/ferry/host/broker"
)

// testBroker returns FERRY_TEST_BOOTSTRAP, or an embedded broker of the
// test's own.
func testBroker(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("FERRY_TEST_BOOTSTRAP"); b != "" {
		return b
	}
	b, err := broker.Start(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

var logTopicSeq atomic.Int64

func logTopic(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", t.Name(), time.Now().UnixNano()%1e9, logTopicSeq.Add(1))
}

// collector keeps what a Log's callback saw.
type collector struct {
	mu      sync.Mutex
	records []LogRecord
}

func (c *collector) add(r LogRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
}

func (c *collector) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, r := range c.records {
		v := string(r.Value)
		if r.Value == nil {
			v = "<tombstone>"
		}
		parts = append(parts, string(r.Key)+"="+v)
	}
	return strings.Join(parts, " ")
}

func TestLogWritesAndReadsBack(t *testing.T) {
	t.Parallel()
	bootstrap := testBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := TopicSpec{Name: logTopic(t), Partitions: 1, ReplicationFactor: -1, SinglePartition: true}
	var first collector
	l, err := OpenLog(ctx, bootstrap, "test-log", spec, nil, first.add)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, kv := range [][2]string{{"k1", "v1"}, {"k2", "v2"}, {"k1", "v3"}, {"k2", ""}} {
		var value []byte
		if kv[1] != "" {
			value = []byte(kv[1])
		}
		if err := l.Send(ctx, []byte(kv[0]), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	const want = "k1=v1 k2=v2 k1=v3 k2=<tombstone>"
	if got := first.summary(); got != want {
		t.Errorf("read back %q, want %q", got, want)
	}
	// A second reader gets the whole topic before OpenLog returns.
	var second collector
	l2, err := OpenLog(ctx, bootstrap, "test-log-2", spec, nil, second.add)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if got := second.summary(); got != want {
		t.Errorf("a new reader read %q, want %q", got, want)
	}
}

// Kafka Connect refuses to start on a config topic that is not compacted
// or has more than one partition: compaction keeps the last record of each
// key, and one partition keeps the records in one order.
func TestLogRefusesUnfitTopics(t *testing.T) {
	t.Parallel()
	bootstrap := testBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A topic created with the broker's defaults: cleanup.policy=delete.
	plain := logTopic(t)
	p, err := NewProducer(bootstrap, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopic(ctx, plain); err != nil {
		t.Fatal(err)
	}
	p.CloseDiscarding(5 * time.Second)
	_, err = OpenLog(ctx, bootstrap, "test-log", TopicSpec{Name: plain, Partitions: 1, ReplicationFactor: -1}, nil, func(LogRecord) {})
	if err == nil || !strings.Contains(err.Error(), "must be compacted") || !strings.Contains(err.Error(), plain) {
		t.Errorf("OpenLog on a non-compacted topic: %v", err)
	}

	wide := TopicSpec{Name: logTopic(t), Partitions: 3, ReplicationFactor: -1}
	l, err := OpenLog(ctx, bootstrap, "test-log", wide, nil, func(LogRecord) {})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	wide.SinglePartition = true
	_, err = OpenLog(ctx, bootstrap, "test-log", wide, nil, func(LogRecord) {})
	if err == nil || !strings.Contains(err.Error(), "exactly 1 partition, but has 3") {
		t.Errorf("OpenLog on a 3-partition config topic: %v", err)
	}
}
