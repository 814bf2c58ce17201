package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Distributed is what a distributed worker reads beyond Worker: Kafka
// Connect's DistributedConfig.
type Distributed struct {
	GroupID string
	// Config, Offsets and Status are the internal topics.
	Config, Offsets, Status Topic
	SessionTimeout          time.Duration
	Heartbeat               time.Duration
	RebalanceTimeout        time.Duration
	// MaxDelay is scheduled.rebalance.max.delay.ms (0: lost work moves at
	// once).
	MaxDelay      time.Duration
	SyncTimeout   time.Duration
	UnsyncBackoff time.Duration
	// Protocol is connect.protocol: eager, compatible or sessioned.
	Protocol string
	// AdvertisedHost and AdvertisedPort are rest.advertised.host.name and
	// rest.advertised.port: where peers reach this worker's REST API
	// (empty and 0: the listener's). AdvertisedListener is
	// rest.advertised.listener (http only).
	AdvertisedHost     string
	AdvertisedPort     int
	AdvertisedListener string
}

// Topic is one internal topic's settings.
type Topic struct {
	Name string
	// Partitions and ReplicationFactor for a new topic; -1 is the
	// broker's default.
	Partitions        int
	ReplicationFactor int
	// Config is the topic-level settings given under the topic's prefix
	// (config.storage.min.insync.replicas and the like).
	Config map[string]string
}

// LoadDistributed reads and validates a distributed worker's .properties
// file (connect-distributed.properties).
func LoadDistributed(path string) (*Worker, *Distributed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read worker config: %w", err)
	}
	props, err := ParseProperties(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewDistributed(path, props)
}

// NewDistributed applies defaults to props and validates them, for a
// distributed worker, with Kafka Connect's defaults; every problem is
// named by key.
func NewDistributed(source string, props map[string]string) (*Worker, *Distributed, error) {
	var problems []string
	bad := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	w, err := newWorker(source, props, true)
	if e, ok := err.(*Error); ok {
		problems = append(problems, e.Problems...)
	} else if err != nil {
		return nil, nil, err
	}
	d := &Distributed{}
	required := func(key string) string {
		v := strings.TrimSpace(props[key])
		if v == "" {
			bad(key, "missing required configuration with no default value")
		}
		return v
	}
	d.GroupID = required("group.id")
	// Every key spelt out, as in NewWorker.
	for _, t := range []struct {
		dst                                    *Topic
		prefix, topic, partitions, replication string
		defPartitions                          int
	}{
		{&d.Config, "config.storage.", "config.storage.topic", "config.storage.partitions", "config.storage.replication.factor", 1},
		{&d.Offsets, "offset.storage.", "offset.storage.topic", "offset.storage.partitions", "offset.storage.replication.factor", 25},
		{&d.Status, "status.storage.", "status.storage.topic", "status.storage.partitions", "status.storage.replication.factor", 5},
	} {
		t.dst.Name = required(t.topic)
		t.dst.Partitions = topicCount(props, t.partitions, t.defPartitions, bad)
		t.dst.ReplicationFactor = topicCount(props, t.replication, 3, bad)
		t.dst.Config = map[string]string{}
		for k, v := range Prefixed(props, t.prefix) {
			if IsTopicSetting(t.prefix + k) {
				t.dst.Config[k] = v
			}
		}
	}
	// The config topic has one partition whatever is asked, as in Kafka
	// Connect: its records must stay in one order.
	d.Config.Partitions = 1
	d.SessionTimeout = positiveMS(props, "session.timeout.ms", 10000, bad)
	d.Heartbeat = positiveMS(props, "heartbeat.interval.ms", 3000, bad)
	d.RebalanceTimeout = positiveMS(props, "rebalance.timeout.ms", 60000, bad)
	d.SyncTimeout = positiveMS(props, "worker.sync.timeout.ms", 3000, bad)
	d.UnsyncBackoff = positiveMS(props, "worker.unsync.backoff.ms", 300000, bad)
	d.MaxDelay = 300000 * time.Millisecond
	if v, ok := props["scheduled.rebalance.max.delay.ms"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n < 0 {
			bad("scheduled.rebalance.max.delay.ms", "invalid value %q: expected a number of milliseconds from 0 to 2147483647", v)
		}
		d.MaxDelay = time.Duration(n) * time.Millisecond
	}
	if d.Heartbeat >= d.SessionTimeout {
		bad("heartbeat.interval.ms", "must be below session.timeout.ms (%s)", d.SessionTimeout)
	}
	d.Protocol = strings.ToLower(strings.TrimSpace(props["connect.protocol"]))
	switch d.Protocol {
	case "":
		d.Protocol = "sessioned"
	case "eager", "compatible", "sessioned":
	default:
		bad("connect.protocol", "invalid value %q: expected eager, compatible or sessioned", props["connect.protocol"])
	}
	d.AdvertisedHost = strings.TrimSpace(props["rest.advertised.host.name"])
	if v := strings.TrimSpace(props["rest.advertised.port"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			bad("rest.advertised.port", "invalid port %q", v)
		}
		d.AdvertisedPort = n
	}
	d.AdvertisedListener = strings.ToLower(strings.TrimSpace(props["rest.advertised.listener"]))
	if d.AdvertisedListener != "" && d.AdvertisedListener != "http" {
		bad("rest.advertised.listener", "unsupported listener %q: only http is supported", props["rest.advertised.listener"])
	}
	if len(problems) > 0 {
		return nil, nil, &Error{Source: source, Problems: problems}
	}
	return w, d, nil
}

// topicCount reads a partition count or replication factor: at least 1,
// or -1 for the broker's default.
func topicCount(props map[string]string, key string, def int, bad func(string, string, ...any)) int {
	v, ok := props[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || n == 0 || n < -1 {
		bad(key, "invalid value %q: expected a positive number, or -1 for the broker's default", v)
		return def
	}
	return int(n)
}

// IsTopicSetting reports whether a distributed worker key is a topic-level
// setting for an internal topic (config.storage.<setting> and the like),
// which Kafka Connect passes to the topic it creates.
func IsTopicSetting(key string) bool {
	for _, p := range []string{"config.storage.", "offset.storage.", "status.storage."} {
		if rest, ok := strings.CutPrefix(key, p); ok {
			switch rest {
			case "topic", "partitions", "replication.factor", "file.filename":
				return false
			}
			return rest != ""
		}
	}
	return false
}
