package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-connect/ferry/internal/proctree"
)

// timed runs f and returns how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// createAndDelete creates a connector through the REST API and deletes it,
// failing the test on an unexpected status.
func (w *workerProc) createAndDelete(name string, cfg map[string]string) {
	w.t.Helper()
	if code := w.call("POST", "/connectors", map[string]any{"name": name, "config": cfg}, nil); code != 201 {
		w.t.Fatalf("create %s = %d", name, code)
	}
	if code := w.call("DELETE", "/connectors/"+name, nil, nil); code != 204 {
		w.t.Fatalf("delete %s = %d", name, code)
	}
}

// Regression (issue 12, defect 1): a SIGSTOPped plugin froze the worker.
// Its status stayed RUNNING; changes to it, and to unrelated connectors,
// hung behind one lock; SIGTERM of the worker hung for minutes. Now:
//   - within ferry.plugin.heartbeat.timeout.ms plus one check interval (a
//     quarter of it), the connector leaves RUNNING with the cause, and is
//     replaced from its committed offsets;
//   - other connectors' creates and deletes answer as fast as before, even
//     while a change to the stuck connector waits for it;
//   - SIGTERM exits within task.shutdown.graceful.timeout.ms plus the
//     connector's stop call (2 s) and the kill;
//   - no line is lost.
func TestStoppedPlugin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := pipeline(t, dir)
	const (
		n         = 20_000
		heartbeat = 2 * time.Second
		graceful  = 2 * time.Second
	)
	cfg := writeWorkerConfig(t, dir, map[string]string{
		"ferry.plugin.heartbeat.timeout.ms": fmt.Sprint(heartbeat.Milliseconds()),
		"task.shutdown.graceful.timeout.ms": fmt.Sprint(graceful.Milliseconds()),
	})
	w := startWorker(t, dir, cfg, p.SrcCfg, p.SinkCfg)
	go appendLines(t, p.In, 0, n/2, 500, 20*time.Millisecond)
	waitFor(t, time.Minute, "first lines in the sink", func() bool { return len(readLines(t, p.Out)) > 1000 })

	other := map[string]string{"connector.class": "dev.ferry.test.SplitSource", "splits.file": filepath.Join(dir, "splits"), "topic": uniqueTopic(t)}
	before := timed(func() { w.createAndDelete("other-before", other) })

	// The sink's plugin stops mid-stream.
	sinkPID := w.pluginPID(p.Sink)
	if sinkPID == 0 {
		t.Fatal("no sink plugin")
	}
	syscall.Kill(sinkPID, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(sinkPID, syscall.SIGKILL) })
	stopped := time.Now()
	type leaving struct {
		after time.Duration
		trace string
	}
	left := make(chan leaving, 1)
	go func() {
		for time.Since(stopped) < time.Minute {
			if st := w.status(p.Sink); st.Connector.State != "RUNNING" {
				left <- leaving{time.Since(stopped), st.Connector.Trace}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		left <- leaving{after: time.Minute}
	}()
	during := timed(func() { w.createAndDelete("other-during", other) })
	if limit := 2*before + 3*time.Second; during > limit {
		t.Errorf("create+delete of another connector took %s while a plugin was stopped (%s before); want at most %s", during, before, limit)
	}
	bound := heartbeat + heartbeat/4
	l := <-left
	t.Logf("sink left RUNNING %s after SIGSTOP (bound %s): %s", l.after, bound, l.trace)
	if l.after > bound+2*time.Second {
		t.Errorf("the sink left RUNNING %s after its plugin stopped; want at most %s (plus a margin)", l.after, bound)
	}
	if !strings.Contains(l.trace, "not responding") {
		t.Errorf("trace %q does not say the plugin is not responding", l.trace)
	}
	waitFor(t, 30*time.Second, "the sink running in a new process", func() bool {
		pid := w.pluginPID(p.Sink)
		return pid != 0 && pid != sinkPID && w.running(p.Sink)
	})
	if proctree.Alive(sinkPID) {
		t.Errorf("the stopped plugin %d is still there", sinkPID)
	}

	// A change to a connector whose plugin is stuck waits for it, in
	// bounded time, and never holds up another connector's change.
	srcPID := w.pluginPID(p.Src)
	syscall.Kill(srcPID, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(srcPID, syscall.SIGKILL) })
	paused := make(chan time.Duration, 1)
	go func() { paused <- timed(func() { w.call("PUT", "/connectors/"+p.Src+"/pause", nil, nil) }) }()
	during = timed(func() { w.createAndDelete("other-while-pausing", other) })
	select {
	case d := <-paused:
		t.Logf("pause of the stopped source answered in %s, before the other connector's change (%s)", d, during)
	default:
	}
	if limit := 2*before + 3*time.Second; during > limit {
		t.Errorf("create+delete took %s while a stuck connector was pausing; want at most %s", during, limit)
	}
	if d := <-paused; d > graceful+15*time.Second {
		t.Errorf("pause of a connector with a stopped plugin took %s", d)
	}
	if code := w.call("PUT", "/connectors/"+p.Src+"/resume", nil, nil); code != 202 {
		t.Fatalf("resume = %d", code)
	}
	waitFor(t, 30*time.Second, "the source running again", func() bool { return w.running(p.Src) })
	appendLines(t, p.In, n/2, n, 500, 10*time.Millisecond)
	checkArrived(t, p.Out, n, 2*time.Minute)

	// SIGTERM while a plugin is stopped.
	srcPID = w.pluginPID(p.Src)
	syscall.Kill(srcPID, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(srcPID, syscall.SIGKILL) })
	took := timed(w.stop)
	t.Logf("SIGTERM with a stopped plugin: exited in %s", took)
	if limit := graceful + 2*time.Second + 3*time.Second; took > limit {
		t.Errorf("worker took %s to stop with a stopped plugin; want at most %s", took, limit)
	}
	if proctree.Alive(srcPID) {
		t.Errorf("the stopped source plugin %d outlived the worker", srcPID)
	}
	w2 := startWorker(t, dir, cfg, p.SrcCfg, p.SinkCfg)
	checkArrived(t, p.Out, n, 2*time.Minute)
	w2.stop()
}

// processesOf lists the live processes whose environment holds one of
// the markers (FERRY_CONNECTOR=<name>: a plugin and every child it
// started).
func processesOf(markers ...string) []int {
	var out []int
	for _, pid := range proctree.Tree(1) {
		if !proctree.Alive(pid) {
			continue
		}
		env := proctree.Env(pid)
		for _, m := range markers {
			for _, kv := range env {
				if kv == m {
					out = append(out, pid)
				}
			}
		}
	}
	return out
}

// wrapperPlugin writes a plugin directory holding a shell wrapper around
// the test plugin: the shell does not exec it and starts a child that
// keeps the plugin's stdout and stderr open, the kind of plugin go-plugin
// waited on for minutes and left behind.
func wrapperPlugin(t *testing.T, dir, prelude string) string {
	t.Helper()
	plugins := filepath.Join(dir, "plugins")
	os.MkdirAll(plugins, 0o755)
	script := fmt.Sprintf("#!/bin/sh\n%s\nsleep 600 &\n%s\n", prelude, filepath.Join(binDir, "plugins", "testplugin"))
	if err := os.WriteFile(filepath.Join(plugins, "wrapped"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return plugins
}

// Regression (issue 12, defects 3 and 4): a plugin's children were not
// managed, so a wrapper script plugin stayed orphaned after the worker was
// SIGKILLed, and each killed plugin left its socket in the system temp
// dir. After 10 plugin SIGKILLs and 10 worker SIGKILLs, no process of the
// test's connectors may be left and no socket anywhere.
func TestNoOrphansAfterKills(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.MkdirAll(tmp, 0o755)
	env := []string{"TMPDIR=" + tmp} // where go-plugin used to put sockets
	cfg := writeWorkerConfig(t, dir, map[string]string{"plugin.path": wrapperPlugin(t, dir, "")})
	names := []string{"orphan-a-" + uniqueTopic(t), "orphan-b-" + uniqueTopic(t)}
	var markers []string
	w := startWorkerEnv(t, dir, env, cfg)
	for _, name := range names {
		markers = append(markers, "FERRY_CONNECTOR="+name)
		c := map[string]string{"connector.class": "dev.ferry.test.SplitSource", "splits.file": filepath.Join(dir, "splits"), "topic": uniqueTopic(t)}
		if code := w.call("POST", "/connectors", map[string]any{"name": name, "config": c}, nil); code != 201 {
			t.Fatalf("create %s = %d", name, code)
		}
	}
	allRunning := func(w *workerProc) func() bool {
		return func() bool { return w.running(names[0]) && w.running(names[1]) }
	}
	waitFor(t, 30*time.Second, "connectors running", allRunning(w))
	for i := range 10 {
		victim := names[i%2]
		pid := w.pluginPID(victim)
		syscall.Kill(pid, syscall.SIGKILL)
		waitFor(t, 30*time.Second, victim+" back in a new process", func() bool {
			p := w.pluginPID(victim)
			return p != 0 && p != pid && w.running(victim)
		})
	}
	for range 10 {
		w.kill()
		w = startWorkerEnv(t, dir, env, cfg)
		waitFor(t, 30*time.Second, "connectors running after a worker restart", allRunning(w))
	}
	w.stop()
	var left []int
	waitFor(t, 5*time.Second, "no processes left of the test's connectors", func() bool {
		left = processesOf(markers...)
		return len(left) == 0
	})
	for _, d := range []string{filepath.Join(dir, "data", "sockets"), tmp} {
		if entries, _ := os.ReadDir(d); len(entries) > 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("left in %s: %v", d, names)
		}
	}
}

// Regression (issue 12, defect 7): a plugin that died at start-up had
// go-plugin's generic "not compiled for this architecture" text as its
// status trace, and its own message reached neither the log nor the trace.
func TestPluginDyingAtStartupSaysWhy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// It serves discovery, and dies when started for a connector.
	plugins := wrapperPlugin(t, dir, `if [ -n "$FERRY_CONNECTOR" ]; then echo "fatal: cannot open licence file /opt/acme/licence.key" >&2; exit 1; fi`)
	w := startWorker(t, dir, writeWorkerConfig(t, dir, map[string]string{"plugin.path": plugins, "ferry.restart.max.attempts": "0"}))
	c := map[string]string{"connector.class": "dev.ferry.test.SplitSource", "splits.file": filepath.Join(dir, "splits"), "topic": uniqueTopic(t)}
	if code := w.call("POST", "/connectors", map[string]any{"name": "dies", "config": c}, nil); code != 201 {
		t.Fatalf("create = %d", code)
	}
	waitFor(t, 30*time.Second, "FAILED", func() bool { return w.status("dies").Connector.State == "FAILED" })
	trace := w.status("dies").Connector.Trace
	if !strings.Contains(trace, "cannot open licence file /opt/acme/licence.key") || strings.Contains(trace, "architecture") {
		t.Errorf("trace = %q, want the plugin's own message", trace)
	}
	log, _ := os.ReadFile(w.logf)
	if !bytes.Contains(log, []byte("[INFO]")) || !bytes.Contains(log, []byte("fatal: cannot open licence file")) {
		t.Errorf("the plugin's stderr is not in the worker's log")
	}
}

// startFails runs `ferry standalone args...`, which must exit non-zero
// before its REST API comes up, and returns what it printed.
func startFails(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ferry"), append([]string{"standalone"}, args...)...)
	cmd.Env = testEnv()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("worker did not exit:\n%s", out)
	}
	if err == nil {
		t.Fatalf("worker exited 0, want a start-up error:\n%s", out)
	}
	if restLine.Match(out) {
		t.Errorf("worker opened its REST API before refusing to start:\n%s", out)
	}
	return string(out)
}

// Regression (issue 12, defects 2, 5 and 6): settings that cannot work
// were accepted at start-up and failed later (a panic for
// offset.flush.interval.ms=0, minutes of restarts for an unknown
// converter, sinks RUNNING for ever without Kafka), and of two connector
// files with one name the last silently won. Kafka Connect refuses to
// start in each case; so does Ferry, naming the key or the files.
func TestStartupRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		extra map[string]string
		want  []string
	}{
		{"flush interval zero", map[string]string{"offset.flush.interval.ms": "0"}, []string{"offset.flush.interval.ms"}},
		{"unknown converter", map[string]string{"value.converter": "com.example.NoSuchConverter"}, []string{"value.converter", "com.example.NoSuchConverter"}},
		{"unreachable kafka", map[string]string{"bootstrap.servers": "127.0.0.1:1", "ferry.startup.timeout.ms": "2000"}, []string{"bootstrap.servers", "127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := startFails(t, writeWorkerConfig(t, dir, tc.extra))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not name %q:\n%s", w, tail([]byte(out), 10))
				}
			}
		})
	}
	t.Run("duplicate connector names", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		p := pipeline(t, dir)
		second := filepath.Join(dir, "again.properties")
		writeProps(t, second, map[string]string{"name": p.Src, "connector.class": "FileStreamSource", "file": p.In, "topic": "x"})
		out := startFails(t, writeWorkerConfig(t, dir, nil), p.SrcCfg, second)
		for _, w := range []string{p.SrcCfg, second, p.Src} {
			if !strings.Contains(out, w) {
				t.Errorf("output does not name %q:\n%s", w, tail([]byte(out), 10))
			}
		}
	})
}

// Unknown worker keys are warned about, with the closest known key.
func TestUnknownWorkerKeyWarned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := startWorker(t, dir, writeWorkerConfig(t, dir, map[string]string{"offset.flush.intervall.ms": "100"}))
	log, _ := os.ReadFile(w.logf)
	line := ""
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "offset.flush.intervall.ms") {
			line = l
		}
	}
	if !strings.Contains(line, "[WARN]") || !strings.Contains(line, "offset.flush.interval.ms") {
		t.Errorf("no warning naming the typo and the key meant; log line: %q", line)
	}
}

// Regression (issue 12, defect 9): the embedded broker's data files were
// world-readable, so anyone on the machine could read every topic. What
// the worker keeps is private to its user, also when an earlier version
// left its directories open.
func TestDataIsPrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data", "broker"), 0o755)
	os.Chmod(filepath.Join(dir, "data", "broker"), 0o755)
	p := pipeline(t, dir)
	os.WriteFile(p.In, []byte("secret\n"), 0o644)
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil), p.SrcCfg, p.SinkCfg)
	waitFor(t, time.Minute, "the line in the sink", func() bool { return len(readLines(t, p.Out)) == 1 })
	waitFor(t, 10*time.Second, "source offsets stored", func() bool {
		_, err := os.Stat(filepath.Join(dir, "connect.offsets"))
		return err == nil
	})
	private := []string{"sockets"}
	if os.Getenv("FERRY_TEST_BOOTSTRAP") == "" {
		private = append(private, "broker") // the embedded broker's log
	}
	for _, sub := range private {
		st, err := os.Stat(filepath.Join(dir, "data", sub))
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("data/%s has mode %04o, want no access for group and others", sub, perm)
		}
	}
	for _, f := range []string{filepath.Join(dir, "data", "connectors.json"), filepath.Join(dir, "connect.offsets")} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %04o, want no access for group and others", f, perm)
		}
	}
	w.stop()
}

// Issue 12, defect 11: changes were serialised behind one lock, each
// waiting for the previous one's plugin: 50 parallel creates took up to
// 62 s each, past a 30 s client's timeout. They now run side by side
// (TestStoppedPlugin shows that one connector's change does not wait on
// another's; this logs how long the slowest of 20 took) and every one is
// kept, also across a restart: concurrent changes write the state file in
// turn, the last write holding them all.
func TestParallelCreates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeWorkerConfig(t, dir, nil)
	w := startWorker(t, dir, cfg)
	const n = 20
	type result struct {
		code int
		took time.Duration
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			c := map[string]any{"name": fmt.Sprintf("par-%02d", i), "config": map[string]string{
				"connector.class": "dev.ferry.test.SplitSource", "splits.file": filepath.Join(dir, "splits"), "topic": uniqueTopic(t)}}
			var r result
			r.took = timed(func() { r.code = w.callNoFail("POST", "/connectors", c) })
			results <- r
		}()
	}
	var slowest time.Duration
	for range n {
		r := <-results
		if r.code != 201 {
			t.Errorf("parallel create = %d, want 201", r.code)
		}
		slowest = max(slowest, r.took)
	}
	t.Logf("%d parallel creates: the slowest took %s", n, slowest)
	var names []string
	w.call("GET", "/connectors", nil, &names)
	if len(names) != n {
		t.Fatalf("%d connectors after %d parallel creates: %v", len(names), n, names)
	}
	w.stop()
	w = startWorker(t, dir, cfg)
	names = nil
	w.call("GET", "/connectors", nil, &names)
	if len(names) != n {
		t.Errorf("%d connectors restored, want %d", len(names), n)
	}
}

// A stored connector that no longer validates when the worker starts (its
// plugin was removed, say) is kept and reported FAILED with the reason;
// v0 dropped it from its state at the next change, losing its config.
func TestStoredConnectorWithoutItsPlugin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil))
	c := map[string]string{"connector.class": "dev.ferry.test.SplitSource", "splits.file": filepath.Join(dir, "splits"), "topic": uniqueTopic(t)}
	if code := w.call("POST", "/connectors", map[string]any{"name": "orphaned", "config": c}, nil); code != 201 {
		t.Fatalf("create = %d", code)
	}
	w.stop()

	// The test plugin is gone from plugin.path.
	fileOnly := filepath.Join(dir, "plugins")
	os.MkdirAll(fileOnly, 0o755)
	os.Symlink(filepath.Join(binDir, "plugins", "file"), filepath.Join(fileOnly, "file"))
	w = startWorker(t, dir, writeWorkerConfig(t, dir, map[string]string{"plugin.path": fileOnly}))
	st := w.status("orphaned")
	if st.Connector.State != "FAILED" || !strings.Contains(st.Connector.Trace, "dev.ferry.test.SplitSource") {
		t.Errorf("status = %+v, want FAILED naming the missing class", st)
	}
	// Another change must not drop it.
	in := filepath.Join(dir, "in.txt")
	if code := w.call("POST", "/connectors", map[string]any{"name": "other", "config": map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": uniqueTopic(t)}}, nil); code != 201 {
		t.Fatalf("create other = %d", code)
	}
	w.stop()

	w = startWorker(t, dir, writeWorkerConfig(t, dir, nil))
	waitFor(t, 30*time.Second, "the connector running with its plugin back", func() bool { return w.running("orphaned") })
}
