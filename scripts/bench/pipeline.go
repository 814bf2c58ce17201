package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/internal/proctree"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
	"github.com/ferry-connect/ferry/sdk/go/pbwire"
)

// converter is a key/value converter setting used by both workers.
type converter struct {
	name  string
	props string
}

var byteArray = converter{"ByteArrayConverter", "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\nvalue.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"}

// converters are compared on the file pipelines.
var converters = []converter{
	{"StringConverter", "key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n"},
	{"JsonConverter (schemas)", "key.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n"},
}

// runner makes the command that starts a worker with connector files.
type runner func(o options, dir, worker string, connectors ...string) (*exec.Cmd, error)

func ferryRunner(o options, dir, worker string, connectors ...string) (*exec.Cmd, error) {
	bin, _ := filepath.Abs(filepath.Join(o.binDir, "ferry"))
	plugins, _ := filepath.Abs(filepath.Join(o.binDir, "plugins"))
	f, err := os.OpenFile(worker, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	// The file connectors may use the bench's directory (input and outputs).
	fmt.Fprintf(f, "plugin.path=%s\nferry.admin.listener=\nferry.data.dir=%s\nferry.allowed.paths=%s\n", plugins, filepath.Join(dir, "data"), o.work)
	f.Close()
	return exec.Command(bin, append([]string{"standalone", worker}, connectors...)...), nil
}

// groupProps are the settings of a distributed group of its own: group.id
// and internal topics named after group, unreplicated.
func groupProps(group string) string {
	return fmt.Sprintf("group.id=%s\nconfig.storage.topic=%s-configs\noffset.storage.topic=%s-offsets\nstatus.storage.topic=%s-status\n"+
		"config.storage.replication.factor=1\noffset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n"+
		"offset.storage.partitions=5\nstatus.storage.partitions=3\n", group, group, group, group)
}

// ferryDistributedRunner runs one `ferry distributed` worker, a group of
// its own on fresh internal topics, and creates the connectors through its
// REST API once it answers (a distributed worker takes no connector
// files).
func ferryDistributedRunner(o options, dir, worker string, connectors ...string) (*exec.Cmd, error) {
	bin, _ := filepath.Abs(filepath.Join(o.binDir, "ferry"))
	plugins, _ := filepath.Abs(filepath.Join(o.binDir, "plugins"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	f, err := os.OpenFile(worker, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "plugin.path=%s\nferry.admin.listener=\nferry.data.dir=%s\nferry.allowed.paths=%s\nlisteners=http://%s\n%s",
		plugins, filepath.Join(dir, "data"), o.work, addr, groupProps(filepath.Base(dir)))
	f.Close()
	configs, err := config.LoadConnectors(connectors)
	if err != nil {
		return nil, err
	}
	// Runs while the worker starts; gives up with it (2 minutes).
	go func() {
		deadline := time.Now().Add(2 * time.Minute)
		for _, cfg := range configs {
			body, _ := json.Marshal(cfg)
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/connectors/"+cfg["name"]+"/config", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode < 300 {
						break
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	return exec.Command(bin, "distributed", worker), nil
}

func connectRunner(o options, dir, worker string, connectors ...string) (*exec.Cmd, error) {
	return javaConnect(o, dir, worker, "org.apache.kafka.connect.cli.ConnectStandalone", connectors...)
}

// javaConnect makes the command that runs Kafka Connect's main class
// (ConnectStandalone or ConnectDistributed) on worker.
func javaConnect(o options, dir, worker, main string, connectors ...string) (*exec.Cmd, error) {
	empty := filepath.Join(dir, "no-plugins")
	os.MkdirAll(empty, 0o755)
	f, err := os.OpenFile(worker, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	// The connectors are on the classpath; an empty plugin.path skips the scan.
	fmt.Fprintf(f, "plugin.path=%s\n", empty)
	f.Close()
	logCfg := filepath.Join(dir, "log4j2.properties")
	os.WriteFile(logCfg, []byte("appender.console.type=Console\nappender.console.name=STDOUT\nappender.console.layout.type=PatternLayout\nappender.console.layout.pattern=[%d] %p %m (%c)%n\nrootLogger.level=WARN\nrootLogger.appenderRef.stdout.ref=STDOUT\n"), 0o644)
	args := []string{"-Dlog4j2.configurationFile=" + logCfg, "-cp", filepath.Join(o.connect, "*"), main, worker}
	return exec.Command("java", append(args, connectors...)...), nil
}

// fileToFile runs input through a worker's FileStreamSource → topic →
// FileStreamSink.
func fileToFile(o options, start runner, conv converter, input string, lineBytes int64, run int) (result, error) {
	topic := o.topic("file", 100, run)
	if err := createTopic(o, topic); err != nil {
		return result{}, err
	}
	r, err := measure(o, start, conv, int64(o.records), func(dir string) ([]string, func() int64) {
		out := filepath.Join(dir, "out.txt")
		os.WriteFile(out, nil, 0o644)
		return []string{
				fmt.Sprintf("name=bench-source\nconnector.class=FileStreamSource\nfile=%s\ntopic=%s\n", input, topic),
				fmt.Sprintf("name=bench-sink-%s\nconnector.class=FileStreamSink\nfile=%s\ntopics=%s\n", topic, out, topic),
			}, func() int64 {
				st, _ := os.Stat(out)
				if st == nil {
					return 0
				}
				return st.Size() / lineBytes
			}
	})
	r.Bytes = int64(r.Records) * lineBytes
	return r, err
}

var nextOffset = regexp.MustCompile(`"next":\s*(\d+)`)

// sourcePipeline runs BenchSource → converter → Kafka and counts the
// records whose offsets are committed.
func sourcePipeline(o options, conv converter, size, run int) (result, error) {
	topic := o.topic("source", size, run)
	if err := createTopic(o, topic); err != nil {
		return result{}, err
	}
	r, err := measure(o, ferryRunner, conv, int64(o.records), func(dir string) ([]string, func() int64) {
		offsetsFile := filepath.Join(dir, "offsets")
		return []string{fmt.Sprintf("name=bench-source\nconnector.class=BenchSource\ntopic=%s\nrecords=%d\nrecord.bytes=%d\n", topic, o.records, size)},
			func() int64 {
				b, _ := os.ReadFile(offsetsFile)
				m := nextOffset.FindSubmatch(b)
				if m == nil {
					return 0
				}
				n, _ := strconv.ParseInt(string(m[1]), 10, 64)
				return n
			}
	})
	r.Bytes = int64(r.Records * size)
	return r, err
}

// sinkPipeline reads topic (written by ceilingProduce) through a sink:
// BenchSink, which counts and discards, or FileStreamSink.
func sinkPipeline(o options, conv converter, topic string, size int, toFile bool) (result, error) {
	r, err := measure(o, ferryRunner, conv, int64(o.records), func(dir string) ([]string, func() int64) {
		name := fmt.Sprintf("bench-sink-%d", time.Now().UnixNano())
		if toFile {
			out := filepath.Join(dir, "out.txt")
			return []string{fmt.Sprintf("name=%s\nconnector.class=FileStreamSink\nfile=%s\ntopics=%s\n", name, out, topic)},
				func() int64 {
					st, _ := os.Stat(out)
					if st == nil {
						return 0
					}
					return st.Size() / int64(size+1)
				}
		}
		countFile := filepath.Join(dir, "count")
		return []string{fmt.Sprintf("name=%s\nconnector.class=BenchSink\ncount.file=%s\ntopics=%s\n", name, countFile, topic)},
			func() int64 {
				b, _ := os.ReadFile(countFile)
				n, _ := strconv.ParseInt(string(b), 10, 64)
				return n
			}
	})
	r.Bytes = int64(r.Records * size)
	return r, err
}

// measure starts a worker with the connectors setup writes (as .properties
// texts) and polls progress until it reaches total. It reports the steady
// rate (records/s from the first progress seen to the end), wall time from
// process start, CPU seconds and peak RSS of the worker's process tree.
func measure(o options, start runner, conv converter, total int64, setup func(dir string) ([]string, func() int64)) (result, error) {
	dir, err := os.MkdirTemp(o.work, "pipeline")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	worker := filepath.Join(dir, "worker.properties")
	os.WriteFile(worker, []byte(fmt.Sprintf("bootstrap.servers=%s\n%soffset.storage.file.filename=%s\noffset.flush.interval.ms=%d\nlisteners=http://127.0.0.1:0\n",
		o.bootstrap, conv.props, filepath.Join(dir, "offsets"), o.flushMS)), 0o644)
	texts, progress := setup(dir)
	var files []string
	for i, text := range texts {
		f := filepath.Join(dir, fmt.Sprintf("connector-%d.properties", i))
		os.WriteFile(f, []byte(text), 0o644)
		files = append(files, f)
	}
	cmd, err := start(o, dir, worker, files...)
	if err != nil {
		return result{}, err
	}
	logf, _ := os.Create(filepath.Join(dir, "worker.log"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	s := sample(cmd.Process.Pid)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	var first time.Time
	var firstN int64
	deadline := began.Add(10 * time.Minute)
	for {
		n := progress()
		if n > 0 && first.IsZero() {
			first, firstN = time.Now(), n
		}
		if n >= total {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "worker.log"))
			return result{}, fmt.Errorf("%d of %d records after 10 minutes; log:\n%s", n, total, tail(log))
		}
		time.Sleep(10 * time.Millisecond)
	}
	end := time.Now()
	u := s.finish()
	steady := int(total - firstN)
	if steady == 0 { // everything arrived at the first look
		steady, first = int(total), began
	}
	return result{Records: steady, Elapsed: end.Sub(first), Wall: end.Sub(began), Usage: u}, nil
}

func tail(b []byte) string {
	lines := strings.Split(string(b), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

func createTopic(o options, topic string) error {
	p, err := kafka.NewProducer(o.bootstrap, "bench-admin", nil)
	if err != nil {
		return err
	}
	defer p.Close(time.Second)
	return p.EnsureTopic(context.Background(), topic)
}

// boundPlugin is the bench plugin started for a bound.
type boundPlugin struct {
	*plugin.Process
	ctx    context.Context // the task stream's
	cancel context.CancelFunc
	before []int // the harness's children before the launch
}

func startBoundPlugin(o options) (*boundPlugin, error) {
	before := proctree.Children(os.Getpid())
	l := &plugin.Launcher{SocketDir: filepath.Join(o.work, "sockets"), Log: hclog.NewNullLogger()}
	proc, err := l.Launch(context.Background(), filepath.Join(o.binDir, "plugins", "bench"), "bench", hclog.NewNullLogger(), 10*time.Second)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &boundPlugin{Process: proc, ctx: ctx, cancel: cancel, before: before}, nil
}

func (b *boundPlugin) stop() {
	b.cancel()
	b.Kill()
}

// withCPU adds the plugin's CPU so far to a bound's result, the harness's
// own being the root's.
func (b *boundPlugin) withCPU(r result) result {
	r.Usage.RootCPU = r.Usage.CPU
	for _, pid := range proctree.Children(os.Getpid()) {
		if st, ok := proctree.Read(pid); ok && !slices.Contains(b.before, pid) {
			r.Usage.CPU += st.CPU
		}
	}
	return r
}

// sourceBound runs BenchSource into a host that neither decodes,
// converts nor tracks offsets: it counts each batch's records and produces
// as many fixed values, as the ceiling does. The plugin and the boundary
// cost what they cost in the source pipeline, the worker nothing beyond
// the raw producer, so against the raw producer this is the most any
// source worker could reach on this machine. Its CPU is the harness's and
// the plugin's.
func sourceBound(o options, topic string, size int) (result, error) {
	p, err := startBoundPlugin(o)
	if err != nil {
		return result{}, err
	}
	defer p.stop()
	stream, err := p.Source.Run(p.ctx)
	if err != nil {
		return result{}, err
	}
	cfg := map[string]string{"topic": topic, "records": strconv.Itoa(o.records), "record.bytes": strconv.Itoa(size)}
	open := &pb.SourceOpen{Class: "BenchSource", Config: cfg, MaxBatch: 2000}
	if err := stream.Send(&pb.SourceRunRequest{Msg: &pb.SourceRunRequest_Open{Open: open}}); err != nil {
		return result{}, err
	}
	var msg codec.Raw
	r, err := produce(o, topic, size, func() (int, error) {
		msg = msg[:0]
		if err := stream.RecvMsg(&msg); err != nil {
			return 0, err
		}
		n := 0
		rd := pbwire.NewReader(msg)
		for rd.Next() {
			if rd.Field.IsBytes(pbwire.SourceRunResponseRecords) {
				n++
			}
		}
		return n, rd.Err()
	})
	return p.withCPU(r), err
}

// sinkBound reads topic into BenchSink with nothing of a worker but the
// raw consumer and the boundary: each consumed record goes into a put as
// it is, with the fields the worker sends (BYTES key and value, as
// ByteArrayConverter makes them, and the timestamp), encoded as the
// worker encodes its puts, 2000 records a put; one flush at the end waits
// for the plugin to have taken everything. Against the raw consumer this
// is the most any sink worker could reach on this machine. Its CPU is the
// harness's and the plugin's.
func sinkBound(o options, topic string, size int) (result, error) {
	p, err := startBoundPlugin(o)
	if err != nil {
		return result{}, err
	}
	defer p.stop()
	stream, err := p.Sink.Run(p.ctx)
	if err != nil {
		return result{}, err
	}
	if err := stream.Send(&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Open{Open: &pb.SinkOpen{Class: "BenchSink"}}}); err != nil {
		return result{}, err
	}
	const batch = 2000
	records, values := make([]pb.SinkRecord, batch), make([]pb.Data, 2*batch) // a key and a value each
	put := &pb.SinkPut{Schemas: []*pb.Schema{{Type: pb.SchemaType_SCHEMA_TYPE_BYTES, Optional: true}}}
	var bufs codec.Pool
	send := func(req *pb.SinkRunRequest) error {
		msg, err := bufs.Encode(req)
		if err != nil {
			return err
		}
		return stream.SendMsg(msg)
	}
	sendPut := func() error {
		if len(put.Records) == 0 {
			return nil
		}
		err := send(&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Put{Put: put}})
		put.Records = put.Records[:0]
		return err
	}
	r, err := consume(o, topic, size, func(m *kafka.Message) error {
		i := len(put.Records)
		key, value := &values[2*i], &values[2*i+1]
		*key, *value = pb.Data{Raw: m.Key, Schema: 1}, pb.Data{Raw: m.Value, Schema: 1}
		records[i] = pb.SinkRecord{Topic: m.Topic, KafkaPartition: m.Partition, KafkaOffset: m.Offset, Key: key, Value: value,
			TimestampMs: m.Timestamp.UnixMilli(), TimestampType: pb.TimestampType_TIMESTAMP_TYPE_CREATE_TIME}
		if put.Records = append(put.Records, &records[i]); len(put.Records) == batch {
			return sendPut()
		}
		return nil
	}, func() error {
		if err := sendPut(); err != nil {
			return err
		}
		if err := send(&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Flush{Flush: &pb.SinkFlush{Id: 1}}}); err != nil {
			return err
		}
		_, err := stream.Recv() // the flush's answer: every put is taken
		return err
	})
	return p.withCPU(r), err
}

// boundary streams the input file through the file plugin's source task
// into the host, without Kafka: the cost of the plugin boundary itself.
func boundary(o options, input string) (result, error) {
	l := &plugin.Launcher{SocketDir: filepath.Join(o.work, "sockets"), Log: hclog.NewNullLogger()}
	proc, err := l.Launch(context.Background(), filepath.Join(o.binDir, "plugins", "file"), "bench", hclog.NewNullLogger(), 10*time.Second)
	if err != nil {
		return result{}, err
	}
	defer proc.Kill()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := proc.Source.Run(ctx)
	if err != nil {
		return result{}, err
	}
	open := &pb.SourceOpen{Class: "FileStreamSource", Config: map[string]string{"file": input, "topic": "t"}, MaxBatch: 2000}
	if err := stream.Send(&pb.SourceRunRequest{Msg: &pb.SourceRunRequest_Open{Open: open}}); err != nil {
		return result{}, err
	}
	start := time.Now()
	n := 0
	for n < o.records {
		msg, err := stream.Recv()
		if err != nil {
			return result{}, err
		}
		n += len(msg.Records)
	}
	return result{Records: n, Elapsed: time.Since(start)}, nil
}
