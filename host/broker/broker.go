// Package broker runs the embedded Kafka broker (franz-go's kfake) that a
// worker uses when no bootstrap.servers is configured. Its log lives in a
// directory, so topics and committed offsets survive a restart.
package broker

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
}

// Start starts a single-broker cluster persisting to dir, listening on
// 127.0.0.1:port (0 picks a free port). Topics are created on first use,
// as on a default Apache Kafka broker.
func Start(dir string, port int) (*Broker, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DataDir(dir),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
		kfake.ClusterID("ferry-embedded"),
	}
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker in %s: %w", dir, err)
	}
	return &Broker{cluster: c}, nil
}

// Addr returns the bootstrap.servers value that reaches the broker.
func (b *Broker) Addr() string { return strings.Join(b.cluster.ListenAddrs(), ",") }

// Close stops the broker and flushes its log.
func (b *Broker) Close() { b.cluster.Close() }
