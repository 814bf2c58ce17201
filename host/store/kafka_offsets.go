package store

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/offsets"
)

// offsetsWriteTimeout bounds a Put or Delete.
const offsetsWriteTimeout = 30 * time.Second

// KafkaOffsets is distributed mode's offset store: source offsets in Kafka
// Connect's offsets topic (kafka-connect.md section 4.2), keyed
// ["<connector>",{partition}].
//
// Kafka Connect looks offsets up by the key's bytes, and a Go plugin's
// partition JSON need not have the bytes Java wrote for the same partition
// (member order, number text). So the store files what it reads under
// NormalizeOffsetKey, and Get finds a partition Java wrote; and Put writes
// a partition the store already holds under the key it was read with, so
// that the compacted topic keeps one key for it (a new partition is
// written under offsets.Key of the caller's bytes). If the topic holds one
// partition under several keys (written before this rule, or by different
// workers), Get gives the last one read, and Delete tombstones them all.
//
// Its methods are safe for concurrent use; Puts of one partition must not
// run concurrently (a partition belongs to one task).
type KafkaOffsets struct {
	log    *topicLog
	logger hclog.Logger

	mu   sync.Mutex // guards seq and data
	seq  uint64     // counts records applied, to tell the latest key of a partition
	data map[string]map[string]map[string]storedOffset
}

// storedOffset is a partition's offset under one of its keys.
type storedOffset struct {
	partition []byte // the partition's bytes in this key
	offset    []byte
	seq       uint64
}

// OpenKafkaOffsets opens the offsets topic (creating it if missing), reads
// it to its end, and follows it until Close.
func OpenKafkaOffsets(ctx context.Context, opts KafkaOptions, spec kafka.TopicSpec) (*KafkaOffsets, error) {
	s := &KafkaOffsets{logger: opts.logger("offsets"), data: map[string]map[string]map[string]storedOffset{}}
	log, err := openTopicLog(ctx, opts, "offsets", spec, s.apply)
	if err != nil {
		return nil, err
	}
	s.log = log
	return s, nil
}

// apply reads one record of the topic, from the log's goroutine.
func (s *KafkaOffsets) apply(rec kafka.LogRecord) {
	r, err := DecodeOffsetRecord(rec.Key, rec.Value)
	if err != nil {
		s.logger.Error("skipping an offset record", "partition", rec.Partition, "offset", rec.Offset, "error", err)
		return
	}
	normal, err := NormalizeOffsetKey(rec.Key)
	if err != nil { // not reached: the key decoded
		s.logger.Error("skipping an offset record", "partition", rec.Partition, "offset", rec.Offset, "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(r.Connector, string(normal), string(rec.Key), r.Partition, r.Offset)
}

// setLocked files a partition's offset (nil: a tombstone) under one of its
// keys. The caller holds mu.
func (s *KafkaOffsets) setLocked(connector, normal, key string, partition, offset []byte) {
	parts := s.data[connector]
	if offset == nil {
		delete(parts[normal], key)
		if len(parts[normal]) == 0 {
			delete(parts, normal)
		}
		if len(parts) == 0 {
			delete(s.data, connector)
		}
		return
	}
	if parts == nil {
		parts = map[string]map[string]storedOffset{}
		s.data[connector] = parts
	}
	if parts[normal] == nil {
		parts[normal] = map[string]storedOffset{}
	}
	s.seq++
	parts[normal][key] = storedOffset{partition: partition, offset: offset, seq: s.seq}
}

// latestLocked returns the key a partition was last read or written under.
// The caller holds mu.
func (s *KafkaOffsets) latestLocked(connector, normal string) (key string, o storedOffset, ok bool) {
	for k, v := range s.data[connector][normal] {
		if !ok || v.seq > o.seq {
			key, o, ok = k, v, true
		}
	}
	return key, o, ok
}

// Get returns every stored offset of connector (in the order of their
// partitions' normal forms), each with its partition's bytes as last read
// or written.
func (s *KafkaOffsets) Get(connector string) []offsets.Offset {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []offsets.Offset
	for _, normal := range slices.Sorted(maps.Keys(s.data[connector])) {
		if _, o, ok := s.latestLocked(connector, normal); ok {
			out = append(out, offsets.Offset{Partition: bytes.Clone(o.partition), Offset: bytes.Clone(o.offset)})
		}
	}
	return out
}

// Put writes offsets for connector (a nil Offset resets its partition) and
// returns once Kafka has them all, or after 30 s. Get sees them at once;
// another store sees them once it has read them (ReadToEnd).
func (s *KafkaOffsets) Put(connector string, offs []offsets.Offset) error {
	type write struct {
		normal, key       string
		partition, offset []byte
	}
	var writes []write
	index := map[string]int{} // by normal form: the last offset of a partition wins
	s.mu.Lock()
	for _, o := range offs {
		key, value, err := EncodeOffsetRecord(OffsetRecord{Connector: connector, Partition: o.Partition, Offset: o.Offset})
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("offsets topic %s: %w", s.log.topic, err)
		}
		normal, err := NormalizeOffsetKey(key)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("offsets topic %s: %w", s.log.topic, err)
		}
		w := write{normal: string(normal), key: string(key), partition: o.Partition, offset: value}
		if k, stored, ok := s.latestLocked(connector, w.normal); ok {
			w.key, w.partition = k, stored.partition
		}
		if i, ok := index[w.normal]; ok {
			writes[i] = w
			continue
		}
		index[w.normal] = len(writes)
		writes = append(writes, w)
	}
	s.mu.Unlock()
	recs := make([]keyValue, len(writes))
	for i, w := range writes {
		recs[i] = keyValue{key: []byte(w.key), value: w.offset}
	}
	errs, err := s.send(recs)
	s.mu.Lock()
	for i, w := range writes {
		if errs[i] == nil {
			s.setLocked(connector, w.normal, w.key, bytes.Clone(w.partition), bytes.Clone(w.offset))
		}
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write offsets of connector %q: %w", connector, err)
	}
	return nil
}

// Delete resets every offset of connector: a tombstone for each key its
// partitions are stored under. It returns once Kafka has them all, or
// after 30 s.
func (s *KafkaOffsets) Delete(connector string) error {
	type key struct{ normal, key string }
	var keys []key
	s.mu.Lock()
	for normal, byKey := range s.data[connector] {
		for k := range byKey {
			keys = append(keys, key{normal, k})
		}
	}
	s.mu.Unlock()
	recs := make([]keyValue, len(keys))
	for i, k := range keys {
		recs[i] = keyValue{key: []byte(k.key)}
	}
	errs, err := s.send(recs)
	s.mu.Lock()
	for i, k := range keys {
		if errs[i] == nil {
			s.setLocked(connector, k.normal, k.key, nil, nil)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete offsets of connector %q: %w", connector, err)
	}
	return nil
}

// send writes recs, waiting offsetsWriteTimeout at most.
func (s *KafkaOffsets) send(recs []keyValue) ([]error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), offsetsWriteTimeout)
	defer cancel()
	return s.log.sendAll(ctx, recs)
}

// ReadToEnd waits until every record written to the topic before the call
// has been applied, or ctx ends. A task calls it before Get, for offsets
// another worker may have written.
func (s *KafkaOffsets) ReadToEnd(ctx context.Context) error {
	return s.log.readToEnd(ctx)
}

// Close stops following the topic and closes its clients; writes in flight
// fail. It is idempotent.
func (s *KafkaOffsets) Close() {
	s.log.close()
}

// ConnectorOffsets is the offset store of a source connector with an
// offsets topic of its own (offsets.storage.topic), as Kafka Connect's
// ConnectorOffsetBackingStore: a partition's offset is read from the
// connector's topic, or, if that has none, from the worker's (where the
// connector's offsets were before it had a topic of its own); writes go to
// the connector's topic, then to the worker's.
type ConnectorOffsets struct {
	Own, Worker OffsetStore
}

// Get returns the connector's offsets: its own topic's, plus the worker
// topic's for partitions its own topic does not hold.
func (c ConnectorOffsets) Get(connector string) []offsets.Offset {
	out := c.Own.Get(connector)
	have := map[string]bool{}
	for _, o := range out {
		have[partitionKey(connector, o.Partition)] = true
	}
	for _, o := range c.Worker.Get(connector) {
		if !have[partitionKey(connector, o.Partition)] {
			out = append(out, o)
		}
	}
	return out
}

// partitionKey is a partition's key as both topics file it.
func partitionKey(connector string, partition []byte) string {
	key := offsets.Key(connector, partition)
	if n, err := NormalizeOffsetKey(key); err == nil {
		key = n
	}
	return string(key)
}

// Put writes offsets to the connector's topic, then to the worker's.
func (c ConnectorOffsets) Put(connector string, offs []offsets.Offset) error {
	if err := c.Own.Put(connector, offs); err != nil {
		return err
	}
	if err := c.Worker.Put(connector, offs); err != nil {
		return fmt.Errorf("worker's offsets topic: %w", err)
	}
	return nil
}

// ReadToEnd reads both topics to their end.
func (c ConnectorOffsets) ReadToEnd(ctx context.Context) error {
	if err := c.Own.ReadToEnd(ctx); err != nil {
		return err
	}
	return c.Worker.ReadToEnd(ctx)
}
