package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestFileToKafkaToFile100k(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := pipeline(t, dir)
	const n = 100_000
	appendLines(t, p.In, 0, n, n, 0)
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil), p.SrcCfg, p.SinkCfg)
	checkArrived(t, p.Out, n, 2*time.Minute)
	if lines := readLines(t, p.Out); len(lines) != n {
		t.Errorf("sink has %d lines, want exactly %d (no restarts happened, so no duplicates)", len(lines), n)
	}
	if !w.running(p.Src) || !w.running(p.Sink) {
		t.Errorf("connectors not running: %+v %+v", w.status(p.Src), w.status(p.Sink))
	}
}

// killPlugin SIGKILLs the source's (or the sink's) plugin mid-stream and
// checks that the other connector keeps running, the killed one comes back,
// and no line is lost.
func killPlugin(t *testing.T, killSource bool) {
	t.Parallel()
	dir := t.TempDir()
	p := pipeline(t, dir)
	victim, other := p.Sink, p.Src
	if killSource {
		victim, other = p.Src, p.Sink
	}
	const n = 40_000
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil), p.SrcCfg, p.SinkCfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendLines(t, p.In, 0, n, 500, 20*time.Millisecond)
	}()
	waitFor(t, time.Minute, "first lines in the sink", func() bool { return len(readLines(t, p.Out)) > 2000 })
	pid := w.pluginPID(victim)
	if pid == 0 {
		t.Fatalf("no plugin process for %s", victim)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitFor(t, 10*time.Second, victim+" running again in a new process", func() bool {
		if !w.running(other) {
			t.Fatalf("%s stopped after %s's plugin was killed: %+v", other, victim, w.status(other))
		}
		p := w.pluginPID(victim)
		return p != 0 && p != pid && w.running(victim)
	})
	t.Logf("%s back after %s", victim, time.Since(killed))
	<-done
	checkArrived(t, p.Out, n, 2*time.Minute)
}

func TestKillSourcePlugin(t *testing.T) { killPlugin(t, true) }

func TestKillSinkPlugin(t *testing.T) { killPlugin(t, false) }

func TestKillWorker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := pipeline(t, dir)
	const n = 40_000
	cfg := writeWorkerConfig(t, dir, nil)
	w := startWorker(t, dir, cfg, p.SrcCfg, p.SinkCfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendLines(t, p.In, 0, n, 500, 20*time.Millisecond)
	}()
	waitFor(t, time.Minute, "first lines in the sink", func() bool { return len(readLines(t, p.Out)) > 2000 })
	srcPID, sinkPID := w.pluginPID(p.Src), w.pluginPID(p.Sink)
	w.kill()
	// Orphaned plugins notice their parent is gone and exit.
	waitFor(t, 5*time.Second, "orphaned plugins to exit", func() bool {
		return syscall.Kill(srcPID, 0) != nil && syscall.Kill(sinkPID, 0) != nil
	})
	w2 := startWorker(t, dir, cfg, p.SrcCfg, p.SinkCfg)
	<-done
	checkArrived(t, p.Out, n, 2*time.Minute)
	if !w2.running(p.Src) || !w2.running(p.Sink) {
		t.Errorf("connectors not running after restart")
	}
	w2.stop()
	if entries, _ := os.ReadDir(filepath.Join(dir, "data", "sockets")); len(entries) > 0 {
		t.Errorf("plugin sockets left behind after stop: %v", entries)
	}
}

// Each converter carries lines through Kafka and back unchanged.
func TestConvertersRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil))
	for _, conv := range []struct {
		name   string
		config map[string]string
	}{
		{"json-schemas", nil},
		{"json-plain", map[string]string{"value.converter": "JsonConverter", "value.converter.schemas.enable": "false"}},
		{"string", map[string]string{"value.converter": "org.apache.kafka.connect.storage.StringConverter", "key.converter": "StringConverter"}},
	} {
		t.Run(conv.name, func(t *testing.T) {
			in, out, topic := filepath.Join(dir, conv.name+".in"), filepath.Join(dir, conv.name+".out"), uniqueTopic(t)
			appendLines(t, in, 0, 1000, 1000, 0)
			for name, cfg := range map[string]map[string]string{
				"src-" + topic:  {"connector.class": "FileStreamSource", "file": in, "topic": topic},
				"sink-" + topic: {"connector.class": "FileStreamSink", "file": out, "topics": topic},
			} {
				for k, v := range conv.config {
					cfg[k] = v
				}
				if code := w.call("POST", "/connectors", map[string]any{"name": name, "config": cfg}, nil); code != 201 {
					t.Fatalf("create %s = %d", name, code)
				}
			}
			checkArrived(t, out, 1000, time.Minute)
		})
	}
}
