package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A connector that keeps failing is restarted with backoff, then left
// FAILED with its error as trace; a restart request brings it back once the
// cause is fixed.
func TestRestartBudgetThenFailed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := startWorker(t, dir, writeWorkerConfig(t, dir, map[string]string{
		"ferry.restart.max.attempts":       "2",
		"ferry.restart.backoff.initial.ms": "50",
	}))
	in := filepath.Join(dir, "missing.txt")
	cfg := map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": uniqueTopic(t)}
	if code := w.call("POST", "/connectors", map[string]any{"name": "flaky", "config": cfg}, nil); code != 201 {
		t.Fatalf("create = %d", code)
	}
	waitFor(t, 20*time.Second, "flaky FAILED", func() bool { return w.status("flaky").Connector.State == "FAILED" })
	st := w.status("flaky")
	if !strings.Contains(st.Connector.Trace, "no such file") || st.Tasks[0].State != "FAILED" {
		t.Errorf("status = %+v, want FAILED tasks and a trace naming the cause", st)
	}
	log, _ := os.ReadFile(w.logf)
	if n := strings.Count(string(log), "connector failed; restarting"); n != 2 {
		t.Errorf("restarted %d times, want 2", n)
	}

	os.WriteFile(in, []byte("x\n"), 0o644)
	var restarted status
	if code := w.call("POST", "/connectors/flaky/restart?includeTasks=true&onlyFailed=true", nil, &restarted); code != 202 {
		t.Fatalf("restart = %d", code)
	}
	waitFor(t, 10*time.Second, "flaky running again", func() bool { return w.running("flaky") })
}

// Batches far over gRPC's default 4 MiB cross the plugin boundary both ways.
func TestLargeBatches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := pipeline(t, dir)
	const n, size = 3000, 6000
	pad := strings.Repeat("x", size)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(pad)
		b.WriteString("\n")
	}
	os.WriteFile(p.In, []byte(b.String()), 0o644)
	startWorker(t, dir, writeWorkerConfig(t, dir, nil), p.SrcCfg, p.SinkCfg)
	waitFor(t, time.Minute, "all large lines in the sink", func() bool { return len(readLines(t, p.Out)) >= n })
	for i, l := range readLines(t, p.Out) {
		if l != pad {
			t.Fatalf("line %d has %d bytes, want %d", i, len(l), size)
		}
	}
}

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// The plugin example in the README compiles against the SDK as it is.
func TestReadmePluginExampleBuilds(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := goBlock.FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no go example")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, m[1], 0o644)
	// An overlay puts the file inside the module without touching the tree.
	root, _ := filepath.Abs("../..")
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(root, "internal", "readmeexample", "main.go"): src}})
	os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644)
	cmd := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", filepath.Join(dir, "ticker"), "./internal/readmeexample")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README example does not build: %v\n%s", err, out)
	}
}

// A connector that asks for task reconfiguration gets its new task set
// without being counted as failed.
func TestTaskReconfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil))
	splits := filepath.Join(dir, "splits")
	os.WriteFile(splits, []byte("1"), 0o644)
	cfg := map[string]string{"connector.class": "dev.ferry.test.SplitSource", "splits.file": splits, "topic": uniqueTopic(t), "tasks.max": "3"}
	if code := w.call("POST", "/connectors", map[string]any{"name": "split", "config": cfg}, nil); code != 201 {
		t.Fatalf("create = %d", code)
	}
	tasks := func() int {
		st := w.status("split")
		if st.Connector.State != "RUNNING" {
			return -1
		}
		return len(st.Tasks)
	}
	waitFor(t, 10*time.Second, "1 task", func() bool { return tasks() == 1 })
	os.WriteFile(splits, []byte("2"), 0o644)
	waitFor(t, 10*time.Second, "2 tasks", func() bool { return tasks() == 2 })
	os.WriteFile(splits, []byte("9"), 0o644)
	waitFor(t, 10*time.Second, "3 tasks (tasks.max)", func() bool { return tasks() == 3 })
	log, _ := os.ReadFile(w.logf)
	if strings.Contains(string(log), "connector failed") {
		t.Errorf("reconfiguration was treated as a failure")
	}
}

// SIGTERM while the worker is still starting (discovering plugins,
// validating and starting connectors) is a clean stop: exit 0, no error
// blaming the configuration for what the stop cut short.
func TestStopWhileStarting(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{10, 20, 40, 80, 160, 320, 640} {
		delay *= time.Millisecond
		dir := t.TempDir()
		p := pipeline(t, dir)
		os.WriteFile(p.In, []byte("a\n"), 0o644)
		cmd := exec.Command(filepath.Join(binDir, "ferry"), "standalone", writeWorkerConfig(t, dir, nil), p.SrcCfg, p.SinkCfg)
		cmd.Env = testEnv()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("SIGTERM after %s: worker did not stop within 30 s", delay)
		}
		// Before Go installs the worker's handler, SIGTERM ends it outright;
		// that is a clean stop too.
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); err != nil && !(ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM) {
			t.Errorf("SIGTERM after %s: %v; log:\n%s", delay, err, tail([]byte(out.String()), 20))
		}
		if strings.Contains(out.String(), "[ERROR]") {
			t.Errorf("SIGTERM after %s: the worker logged an error:\n%s", delay, tail([]byte(out.String()), 20))
		}
	}
}
