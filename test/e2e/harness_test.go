// Package e2e runs the real ferry and plugin binaries against a broker:
// the embedded one by default, or the one FERRY_TEST_BOOTSTRAP names.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-connect/ferry/internal/proctree"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferry-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for target, pkg := range map[string]string{"ferry": "./host/cmd/ferry", "plugins/file": "./plugins/file", "plugins/testplugin": "./test/e2e/testplugin", "plugins/verifiable": "./plugins/verifiable"} {
		args := []string{"build", "-o", filepath.Join(dir, target)}
		if os.Getenv("FERRY_TEST_RACE") != "" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Dir = "../.."
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is the environment of the binaries the tests start: a
// race-enabled Go program sleeps a second at exit unless GORACE says
// otherwise, and every plugin stop would cost that.
func testEnv() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0")
}

var topicSeq atomic.Int64

// uniqueTopic keeps tests apart when they share a broker.
func uniqueTopic(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano()%1e9, topicSeq.Add(1))
}

// workerProc is one running `ferry standalone`.
type workerProc struct {
	t      *testing.T
	exited chan struct{} // closed once the process is reaped
	dir    string
	cmd    *exec.Cmd
	url    string
	admin  string // gRPC admin address
	logf   string
	args   []string
}

// writeWorkerConfig writes dir/worker.properties with the test defaults
// plus extra.
func writeWorkerConfig(t *testing.T, dir string, extra map[string]string) string {
	props := map[string]string{
		"key.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":              "org.apache.kafka.connect.json.JsonConverter",
		"offset.storage.file.filename": filepath.Join(dir, "connect.offsets"),
		"offset.flush.interval.ms":     "500",
		"listeners":                    "http://127.0.0.1:0",
		"ferry.admin.listener":         "127.0.0.1:0",
		// A killed worker's sink consumer holds its group until its session
		// expires; keep that short (the broker's minimum) so tests are fast.
		"consumer.session.timeout.ms": "6000",
		"ferry.data.dir":              filepath.Join(dir, "data"),
		"plugin.path":                 filepath.Join(binDir, "plugins"),
		// The file connectors may use the test's own directory only.
		"ferry.allowed.paths": dir,
	}
	if b := os.Getenv("FERRY_TEST_BOOTSTRAP"); b != "" {
		props["bootstrap.servers"] = b
	}
	for k, v := range extra {
		props[k] = v
	}
	path := filepath.Join(dir, "worker.properties")
	writeProps(t, path, props)
	return path
}

func writeProps(t *testing.T, path string, props map[string]string) {
	t.Helper()
	var b strings.Builder
	for k, v := range props {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	brokerLine = regexp.MustCompile(`embedded Kafka broker: bootstrap.servers=(\S+)`)
	restLine   = regexp.MustCompile(`REST API listening: url=(http://\S+)`)
	adminLine  = regexp.MustCompile(`gRPC admin API listening: addr=(\S+)`)
)

// startWorker runs ferry standalone with args (worker config, connector
// files) and waits until its REST API answers.
func startWorker(t *testing.T, dir string, args ...string) *workerProc {
	t.Helper()
	return startWorkerEnv(t, dir, nil, args...)
}

// startWorkerEnv is startWorker with env added to the worker's
// environment.
func startWorkerEnv(t *testing.T, dir string, env []string, args ...string) *workerProc {
	t.Helper()
	return startWorkerMode(t, dir, env, "standalone", args...)
}

// startWorkerMode runs `ferry <mode> args...` (standalone or
// distributed) and waits until its REST API answers.
func startWorkerMode(t *testing.T, dir string, env []string, mode string, args ...string) *workerProc {
	t.Helper()
	w := &workerProc{t: t, dir: dir, args: args, logf: filepath.Join(dir, fmt.Sprintf("worker-%d.log", time.Now().UnixNano()))}
	cmd := exec.Command(filepath.Join(binDir, "ferry"), append([]string{mode}, args...)...)
	cmd.Env = append(testEnv(), env...)
	w.launch(cmd)
	t.Cleanup(func() {
		w.stop()
		b, _ := os.ReadFile(w.logf)
		if bytes.Contains(b, []byte("DATA RACE")) {
			t.Errorf("the race detector fired in the worker or a plugin")
		}
		if t.Failed() {
			t.Logf("worker log %s:\n%s", w.logf, tail(b, 80))
		}
	})
	waitFor(t, 30*time.Second, "worker REST API", func() bool {
		b, _ := os.ReadFile(w.logf)
		rm, am := restLine.FindSubmatch(b), adminLine.FindSubmatch(b)
		if rm != nil && am != nil {
			w.url, w.admin = string(rm[1]), string(am[1])
			return true
		}
		select {
		case <-w.exited:
			b, _ = os.ReadFile(w.logf)
			t.Fatalf("worker exited early (%s):\n%s", w.cmd.ProcessState, b)
		default:
		}
		return false
	})
	return w
}

// launch starts cmd as w's process, its output going to w.logf; w.exited
// closes once it is reaped.
func (w *workerProc) launch(cmd *exec.Cmd) {
	w.t.Helper()
	logFile, err := os.Create(w.logf)
	if err != nil {
		w.t.Fatal(err)
	}
	defer logFile.Close()
	w.cmd = cmd
	w.cmd.Stdout, w.cmd.Stderr = logFile, logFile
	if err := w.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.exited = make(chan struct{})
	go func() { w.cmd.Wait(); close(w.exited) }()
}

func tail(b []byte, lines int) string {
	all := strings.Split(string(b), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// bootstrap returns the broker the worker uses.
func (w *workerProc) bootstrap() string {
	if b := os.Getenv("FERRY_TEST_BOOTSTRAP"); b != "" {
		return b
	}
	log, _ := os.ReadFile(w.logf)
	m := brokerLine.FindSubmatch(log)
	if m == nil {
		w.t.Fatal("worker log names no embedded broker")
	}
	return string(m[1])
}

// stop ends the worker with SIGTERM (a graceful stop) and waits.
func (w *workerProc) stop() {
	select {
	case <-w.exited:
		return
	default:
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(30 * time.Second):
		w.cmd.Process.Kill()
		<-w.exited
		w.t.Errorf("worker did not stop within 30s of SIGTERM")
	}
}

// kill ends the worker with SIGKILL.
func (w *workerProc) kill() {
	w.cmd.Process.Kill()
	<-w.exited
}

// call makes a REST call and decodes the JSON answer into out (if not nil).
func (w *workerProc) call(method, path string, body any, out any) int {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// callNoFail makes a REST call from any goroutine and returns its status
// code, 0 if the request failed.
func (w *workerProc) callNoFail(method, path string, body any) int {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, w.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type status struct {
	Name      string `json:"name"`
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		Trace    string `json:"trace"`
		WorkerID string `json:"worker_id"`
	} `json:"tasks"`
	Type string `json:"type"`
}

func (w *workerProc) status(name string) status {
	var st status
	w.call("GET", "/connectors/"+name+"/status", nil, &st)
	return st
}

// running reports whether the connector and all its tasks are RUNNING.
func (w *workerProc) running(name string) bool {
	st := w.status(name)
	if st.Connector.State != "RUNNING" || len(st.Tasks) == 0 {
		return false
	}
	for _, task := range st.Tasks {
		if task.State != "RUNNING" {
			return false
		}
	}
	return true
}

// pluginPID finds the plugin process serving connector.
func (w *workerProc) pluginPID(connector string) int {
	for _, pid := range proctree.Children(w.cmd.Process.Pid) {
		if slices.Contains(proctree.Env(pid), "FERRY_CONNECTOR="+connector) {
			return pid
		}
	}
	return 0
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readLines returns the lines of path (none if it does not exist).
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	// Only complete lines: the sink may be writing the last one now.
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b[:len(b)-1]), "\n")
}

// pipe is a file source and a file sink wired through a fresh topic. Names
// are unique, so sink groups (connect-<name>) never clash on a shared broker.
type pipe struct {
	Src, Sink       string // connector names
	SrcCfg, SinkCfg string // their .properties files
	In, Out         string // the data files
}

// pipeline writes a pipe's connector configs into dir.
func pipeline(t *testing.T, dir string) pipe {
	topic := uniqueTopic(t)
	p := pipe{
		Src: "src-" + topic, Sink: "sink-" + topic,
		SrcCfg: filepath.Join(dir, "source.properties"), SinkCfg: filepath.Join(dir, "sink.properties"),
		In: filepath.Join(dir, "in.txt"), Out: filepath.Join(dir, "out.txt"),
	}
	writeProps(t, p.SrcCfg, map[string]string{"name": p.Src, "connector.class": "FileStreamSource", "tasks.max": "1", "file": p.In, "topic": topic})
	writeProps(t, p.SinkCfg, map[string]string{"name": p.Sink, "connector.class": "FileStreamSink", "tasks.max": "1", "file": p.Out, "topics": topic})
	return p
}

// appendLines appends lines [from, to) to path, chunk lines at a time with
// pause between chunks.
func appendLines(t *testing.T, path string, from, to, chunk int, pause time.Duration) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	for i := from; i < to; i += chunk {
		var b strings.Builder
		for j := i; j < min(i+chunk, to); j++ {
			fmt.Fprintf(&b, "line-%07d\n", j)
		}
		if _, err := f.WriteString(b.String()); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(pause)
	}
}

// checkArrived fails unless out holds every line [0, n) in order of first
// appearance: duplicates (replays) are allowed, losses are not.
func checkArrived(t *testing.T, out string, n int, timeout time.Duration) {
	t.Helper()
	var unique []string
	waitFor(t, timeout, fmt.Sprintf("%d lines in %s", n, out), func() bool {
		seen := map[string]bool{}
		unique = unique[:0]
		for _, l := range readLines(t, out) {
			if !seen[l] {
				seen[l] = true
				unique = append(unique, l)
			}
		}
		return len(unique) >= n
	})
	for i, l := range unique[:n] {
		if want := fmt.Sprintf("line-%07d", i); l != want {
			t.Fatalf("line %d of %s is %q, want %q", i, out, l, want)
		}
	}
	if len(unique) != n {
		t.Fatalf("%s has %d distinct lines, want %d", out, len(unique), n)
	}
}
