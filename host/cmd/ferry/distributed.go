package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/broker"
	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/herder"
	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/rest"
	"github.com/ferry-connect/ferry/host/store"
	"github.com/ferry-connect/ferry/host/worker"
)

// distributed runs a distributed worker, as connect-distributed.sh does:
// configs, offsets and statuses in Kafka's internal topics, the work
// shared by the workers of group.id.
func distributed(ctx context.Context, log hclog.Logger, workerFile string) error {
	wc, dc, err := config.LoadDistributed(workerFile)
	if err != nil {
		return err
	}
	n, err := start(ctx, log, workerFile, wc, true)
	if n == nil || err != nil {
		return err
	}
	defer n.close()
	workerID, url := advertised(n, dc)
	log = log.With("worker", workerID)

	opts := store.KafkaOptions{Bootstrap: n.bootstrap, ClientID: dc.GroupID, Log: log.Named("store")}
	openCtx, cancel := context.WithTimeout(ctx, wc.StartupTimeout)
	defer cancel()
	changes := make(chan struct{}, 1)
	configs, err := store.OpenKafkaConfigs(openCtx, opts, topicSpec(dc.Config, true), func() { herder.Notify(changes) })
	if err != nil {
		return unlessStopped(ctx, log, fmt.Errorf("config.storage.topic: %w", err))
	}
	defer configs.Close()
	offs, err := store.OpenKafkaOffsets(openCtx, opts, topicSpec(dc.Offsets, false))
	if err != nil {
		return unlessStopped(ctx, log, fmt.Errorf("offset.storage.topic: %w", err))
	}
	defer offs.Close()
	statuses, err := store.OpenKafkaStatus(openCtx, opts, topicSpec(dc.Status, false))
	if err != nil {
		return unlessStopped(ctx, log, fmt.Errorf("status.storage.topic: %w", err))
	}
	defer statuses.Close()
	member, err := kafka.NewGroupMember(n.bootstrap, dc.GroupID, dc.GroupID+"-"+workerID, dc.SessionTimeout, dc.RebalanceTimeout)
	if err != nil {
		return err
	}

	// The worker reports task configs to the herder, which is made after
	// it; nothing runs before the herder's Run starts, below.
	var h *herder.Distributed
	w := worker.New(worker.Options{
		Config: wc, Bootstrap: n.bootstrap, ID: workerID, Launch: n.launcher, Offsets: offs,
		TopicOffsets: func(ctx context.Context, topic string) (store.OffsetStore, func(), error) {
			spec := topicSpec(dc.Offsets, false)
			spec.Name = topic
			s, err := store.OpenKafkaOffsets(ctx, opts, spec)
			if err != nil {
				return nil, nil, err
			}
			return s, s.Close, nil
		},
		Statuses: statuses, TaskConfigs: func(name string, c []map[string]string) { h.TaskConfigs(name, c) }, Log: log.Named("worker"),
	})
	h, err = herder.NewDistributed(herder.DistributedOptions{
		Configs: configs, Statuses: statuses, Worker: w, Catalog: n.catalog, Launch: n.launcher,
		Member: member, Forward: rest.NewClient(30 * time.Second), ConfigChanges: changes, ConfigTopic: dc.Config.Name,
		WorkerID: workerID, URL: url, Protocol: dc.Protocol, Heartbeat: dc.Heartbeat, MaxDelay: dc.MaxDelay,
		SyncTimeout: dc.SyncTimeout, UnsyncBackoff: dc.UnsyncBackoff, Log: log.Named("herder"),
	})
	if err != nil {
		return err
	}
	log.Info("joining the group", "group.id", dc.GroupID, "url", url, "connect.protocol", dc.Protocol)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(ctx)
	}()
	err = n.serve(ctx, h)
	<-done
	return err
}

// advertised returns the worker's id (host:port) and the URL of its REST
// API that peers forward requests to: rest.advertised.host.name and
// rest.advertised.port when set, else the first listener's.
func advertised(n *node, dc *config.Distributed) (id, url string) {
	host, port, _ := net.SplitHostPort(n.workerID)
	if dc.AdvertisedHost != "" {
		host = dc.AdvertisedHost
	}
	if dc.AdvertisedPort != 0 {
		port = strconv.Itoa(dc.AdvertisedPort)
	}
	id = net.JoinHostPort(host, port)
	return id, "http://" + id + "/"
}

func topicSpec(t config.Topic, single bool) kafka.TopicSpec {
	return kafka.TopicSpec{Name: t.Name, Partitions: t.Partitions, ReplicationFactor: t.ReplicationFactor, Config: t.Config, SinglePartition: single}
}

// runBroker runs the embedded broker on its own until SIGINT or SIGTERM,
// for a cluster of workers on one machine (scripts/cluster).
func runBroker(args []string) int {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	dir := fs.String("data-dir", "data/broker", "directory of the broker's log")
	port := fs.Int("port", 19092, "port to listen on (127.0.0.1); 0 picks a free one")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: ferry broker [--data-dir DIR] [--port PORT]")
		return 2
	}
	log := newLogger()
	if err := privateDir(*dir, log); err != nil {
		log.Error("broker", "error", err)
		return 1
	}
	b, err := broker.Start(*dir, *port)
	if err != nil {
		log.Error("broker", "error", err)
		return 1
	}
	log.Info("embedded Kafka broker running", "bootstrap.servers", b.Addr(), "data", *dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	b.Close()
	return 0
}
