package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/plugin"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// converter is a key/value converter setting used by both workers.
type converter struct {
	name  string
	props string
}

var converters = []converter{
	{"StringConverter", "key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n"},
	{"JsonConverter (schemas)", "key.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n"},
}

// runner starts a worker with a file source and a file sink.
type runner func(o options, dir, worker, source, sink string) (*exec.Cmd, error)

func ferryRunner(o options, dir, worker, source, sink string) (*exec.Cmd, error) {
	bin, _ := filepath.Abs(filepath.Join(o.binDir, "ferry"))
	plugins, _ := filepath.Abs(filepath.Join(o.binDir, "plugins"))
	f, err := os.OpenFile(worker, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "plugin.path=%s\nferry.admin.listener=\nferry.data.dir=%s\n", plugins, filepath.Join(dir, "data"))
	f.Close()
	return exec.Command(bin, "standalone", worker, source, sink), nil
}

func connectRunner(o options, dir, worker, source, sink string) (*exec.Cmd, error) {
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
	return exec.Command("java", "-Dlog4j2.configurationFile="+logCfg, "-cp", filepath.Join(o.connect, "*"),
		"org.apache.kafka.connect.cli.ConnectStandalone", worker, source, sink), nil
}

// fileToFile runs input through a worker's FileStreamSource → topic →
// FileStreamSink and measures wall time (start to last byte), the steady
// rate (first output byte to last), CPU seconds and peak RSS of the worker's
// process tree.
func fileToFile(o options, start runner, conv converter, input string, run int) (result, error) {
	dir, err := os.MkdirTemp(o.work, "pipeline")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	topic := topicName("file", 100, run)
	if err := createTopic(o, topic); err != nil {
		return result{}, err
	}
	out := filepath.Join(dir, "out.txt")
	os.WriteFile(out, nil, 0o644)
	worker := filepath.Join(dir, "worker.properties")
	os.WriteFile(worker, []byte(fmt.Sprintf("bootstrap.servers=%s\n%soffset.storage.file.filename=%s\noffset.flush.interval.ms=1000\nlisteners=http://127.0.0.1:0\n",
		o.bootstrap, conv.props, filepath.Join(dir, "offsets"))), 0o644)
	source, sink := filepath.Join(dir, "source.properties"), filepath.Join(dir, "sink.properties")
	os.WriteFile(source, []byte(fmt.Sprintf("name=bench-source\nconnector.class=FileStreamSource\nfile=%s\ntopic=%s\n", input, topic)), 0o644)
	os.WriteFile(sink, []byte(fmt.Sprintf("name=bench-sink-%s\nconnector.class=FileStreamSink\nfile=%s\ntopics=%s\n", topic, out, topic)), 0o644)

	cmd, err := start(o, dir, worker, source, sink)
	if err != nil {
		return result{}, err
	}
	logf, _ := os.Create(filepath.Join(dir, "worker.log"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	want, _ := os.Stat(input)
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
	deadline := began.Add(10 * time.Minute)
	for {
		st, _ := os.Stat(out)
		if st != nil && st.Size() > 0 && first.IsZero() {
			first = time.Now()
		}
		if st != nil && st.Size() >= want.Size() {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "worker.log"))
			return result{}, fmt.Errorf("output incomplete after 10 minutes; log:\n%s", tail(log))
		}
		time.Sleep(20 * time.Millisecond)
	}
	end := time.Now()
	u := s.finish()
	return result{Records: o.records, Bytes: want.Size(), Elapsed: end.Sub(first), Wall: end.Sub(began), Usage: u}, nil
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

// boundary streams the input file through the file plugin's source task
// into the host, without Kafka: the cost of the plugin boundary itself.
func boundary(o options, input string) (result, error) {
	l := &plugin.Launcher{SocketDir: filepath.Join(o.work, "sockets"), Log: hclog.NewNullLogger()}
	proc, err := l.Launch(filepath.Join(o.binDir, "plugins", "file"), "bench", hclog.NewNullLogger(), 10*time.Second)
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
