package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/internal/proctree"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	sdk "github.com/ferry-connect/ferry/sdk/go"
	"github.com/ferry-connect/ferry/sdk/go/handshake"
)

// The test binary doubles as a plugin and as the reaper: wrapper scripts
// run it with one of these first arguments.
const (
	pluginArg = "ferry-test-plugin"
	reaperArg = "ferry-test-reaper"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case pluginArg:
			sdk.Serve(sdk.Plugin{Name: "test", Version: "1.0.0"})
			return
		case reaperArg:
			RunReaper(os.Stdin)
			return
		}
	}
	os.Exit(m.Run())
}

// script writes an executable shell script into dir and returns its path.
// In body, $PLUGIN runs this test binary as a plugin.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	text := fmt.Sprintf("#!/bin/sh\nPLUGIN=\"%s %s\"\n%s\n", exe, pluginArg, body)
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// testLauncher's socket directory has a short path: a unix socket's path
// is at most 107 bytes, and t.TempDir's names are long.
func testLauncher(t *testing.T) *Launcher {
	dir, err := os.MkdirTemp("", "fp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &Launcher{SocketDir: filepath.Join(dir, "sockets"), Log: hclog.NewNullLogger(), Heartbeat: time.Second}
}

func launch(t *testing.T, l *Launcher, bin string) *Process {
	t.Helper()
	p, err := l.Launch(context.Background(), bin, "test", l.Log, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func within(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d > limit {
		t.Errorf("%s took %s, want at most %s", what, d, limit)
	}
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Regression (issue 12): Kill waited without a deadline for a SIGSTOPped
// plugin: go-plugin's shutdown RPC never returned, and every change to
// any connector waited behind it.
func TestKillStoppedPlugin(t *testing.T) {
	t.Parallel()
	l := testLauncher(t)
	l.Heartbeat = time.Hour // Kill alone must cope
	p := launch(t, l, script(t, t.TempDir(), "plugin", "exec $PLUGIN"))
	pid := p.runner.pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	within(t, killGrace+2*time.Second, "Kill of a stopped plugin", p.Kill)
	if proctree.Alive(pid) {
		t.Errorf("stopped plugin %d still alive after Kill", pid)
	}
}

// A plugin that stops answering is declared hung within its heartbeat
// timeout (plus one check interval), and killed so calls on it fail.
func TestHungPluginDetected(t *testing.T) {
	t.Parallel()
	l := testLauncher(t)
	l.Heartbeat = 500 * time.Millisecond
	p := launch(t, l, script(t, t.TempDir(), "plugin", "exec $PLUGIN"))
	ctx, cancel := p.Context(context.Background())
	defer cancel()
	if _, err := p.Plugin.Spec(ctx, &pb.SpecRequest{ProtocolVersion: handshake.ProtocolVersion}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * l.Heartbeat) // healthy meanwhile
	if err := p.Err(); err != nil {
		t.Fatalf("healthy plugin reported as %v", err)
	}
	syscall.Kill(p.runner.pid, syscall.SIGSTOP)
	select {
	case <-p.Done():
	case <-time.After(l.Heartbeat*2 + 2*time.Second):
		t.Fatal("stopped plugin not declared hung")
	}
	if !errors.Is(p.Err(), ErrUnresponsive) {
		t.Errorf("Err = %v, want ErrUnresponsive", p.Err())
	}
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), ErrUnresponsive) {
		t.Errorf("call context's cause = %v, want ErrUnresponsive", context.Cause(ctx))
	}
	waitUntil(t, 2*time.Second, "hung plugin killed", func() bool { return !proctree.Alive(p.runner.pid) })
}

// A plugin that dies ends its Process's life at once, saying how.
func TestExitDetected(t *testing.T) {
	t.Parallel()
	l := testLauncher(t)
	p := launch(t, l, script(t, t.TempDir(), "plugin", "exec $PLUGIN"))
	syscall.Kill(p.runner.pid, syscall.SIGKILL)
	select {
	case <-p.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("dead plugin not noticed")
	}
	if err := p.Err(); !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Err = %v, want ErrExited saying it was killed", err)
	}
}

// Regression (issue 12): a plugin's children were not managed: one that
// kept the plugin's pipes open made go-plugin wait for it, and a wrapper
// script that does not exec left its plugin running.
func TestProcessGroupEndsWithPlugin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body string }{
		{"child holds the pipes", "sleep 300 &\necho $! > $0.pids\nexec $PLUGIN"},
		{"wrapper without exec", "$PLUGIN &\necho $! > $0.pids\nwait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := testLauncher(t)
			bin := script(t, t.TempDir(), "plugin", tc.body)
			var p *Process
			within(t, 10*time.Second, "start-up", func() { p = launch(t, l, bin) })
			b, err := os.ReadFile(bin + ".pids")
			if err != nil {
				t.Fatal(err)
			}
			child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if !proctree.Alive(child) {
				t.Fatalf("child %d not running", child)
			}
			within(t, 2*time.Second, "Kill", p.Kill)
			waitUntil(t, time.Second, "the plugin's child to be gone", func() bool { return !proctree.Alive(child) })
		})
	}
}

// When the plugin itself exits, what it left in its group goes too.
func TestGroupKilledWhenPluginExits(t *testing.T) {
	t.Parallel()
	l := testLauncher(t)
	bin := script(t, t.TempDir(), "plugin", "sleep 300 &\necho $! > $0.pids\nexec $PLUGIN")
	p := launch(t, l, bin)
	b, _ := os.ReadFile(bin + ".pids")
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	syscall.Kill(p.runner.pid, syscall.SIGKILL)
	<-p.Done()
	waitUntil(t, 2*time.Second, "the plugin's child to be gone", func() bool { return !proctree.Alive(child) })
}

// Regression (issue 12): a plugin that died at start-up got go-plugin's
// generic "not compiled for this architecture" text as its error, and its
// own message reached neither the log nor the status.
func TestStartFailureQuotesStderr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body string }{
		{"exits", "echo 'cannot read /etc/ferry/secret.conf: permission denied' >&2\nexit 3"},
		{"garbage on stdout", "echo 'cannot read /etc/ferry/secret.conf: permission denied' >&2\necho hello\nexit 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := testLauncher(t)
			logged := &syncWriter{}
			log := hclog.New(&hclog.LoggerOptions{Output: logged, Level: hclog.Info})
			_, err := l.Launch(context.Background(), script(t, t.TempDir(), "plugin", tc.body), "", log, 10*time.Second)
			if err == nil {
				t.Fatal("Launch succeeded")
			}
			if !strings.Contains(err.Error(), "cannot read /etc/ferry/secret.conf: permission denied") {
				t.Errorf("error does not quote the plugin's stderr: %v", err)
			}
			if strings.Contains(err.Error(), "architecture") {
				t.Errorf("error blames the architecture: %v", err)
			}
			if !strings.Contains(logged.String(), "permission denied") {
				t.Errorf("the plugin's stderr did not reach the log at info level:\n%s", logged.String())
			}
		})
	}
}

// Regression (issue 12): plugin sockets went to the system temp dir, one
// per killed plugin, where the sweep of the socket directory never found
// them.
func TestSocketsInSocketDir(t *testing.T) {
	t.Parallel()
	l := testLauncher(t)
	p := launch(t, l, script(t, t.TempDir(), "plugin", "exec $PLUGIN"))
	addr := p.client.ReattachConfig().Addr.String()
	if !strings.HasPrefix(addr, l.SocketDir+string(filepath.Separator)) {
		t.Errorf("plugin socket %s is outside the socket dir %s", addr, l.SocketDir)
	}
	syscall.Kill(p.runner.pid, syscall.SIGKILL)
	p.Kill()
	if entries, _ := os.ReadDir(l.SocketDir); len(entries) > 0 {
		t.Errorf("socket dir not cleaned after a killed plugin: %v", entries)
	}
}

// A hostile or broken plugin's stderr cannot crash the worker: go-plugin
// asserts that hclog's @-fields are strings.
func TestMalformedLogLines(t *testing.T) {
	t.Parallel()
	l := testLauncher(t)
	p := launch(t, l, script(t, t.TempDir(), "plugin", `echo '{"@message": 1, "@level": ["x"]}' >&2
echo '{"@timestamp": "yesterday", "@message": "m"}' >&2
exec $PLUGIN`))
	time.Sleep(100 * time.Millisecond)
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
}

func TestUntrustedPlugins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("#!/bin/sh\n"), mode)
		os.Chmod(p, mode) // past the umask
		return p
	}
	ok := write("ok", 0o755)
	worldWritable := write("world", 0o757)
	if err := untrusted(ok, dir); err != nil {
		t.Errorf("untrusted(0755 file in 0755 dir) = %v", err)
	}
	if err := untrusted(worldWritable, dir); err == nil || !strings.Contains(err.Error(), "writable by all users") {
		t.Errorf("untrusted(0757 file) = %v", err)
	}
	shared := filepath.Join(t.TempDir(), "shared")
	os.Mkdir(shared, 0o777)
	os.Chmod(shared, 0o1777)
	bin := filepath.Join(shared, "p")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	if err := untrusted(bin, shared); err == nil || !strings.Contains(err.Error(), shared) {
		t.Errorf("untrusted(file in world-writable dir) = %v, want it named", err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(bin, link)
	if err := untrusted(link, dir); err == nil {
		t.Errorf("untrusted(symlink into a world-writable dir) = nil")
	}
	var problems []error
	if got := executables([]string{dir}, &problems); len(got) != 1 || got[0] != ok || len(problems) != 2 {
		t.Errorf("executables = %v, problems %v; want only %s and two problems", got, problems, ok)
	}
}

// Regression (issue 12): a wrapper script plugin stayed orphaned after the
// worker was SIGKILLed. The reaper outlives the worker and kills every
// plugin group still registered when its pipe breaks.
func TestReaperKillsRegisteredGroups(t *testing.T) {
	t.Parallel()
	exe, _ := os.Executable()
	r, err := StartReaper(exe, []string{reaperArg}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command("sleep", "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	registered, forgotten := start(), start()
	r.Add(registered.Process.Pid)
	r.Add(forgotten.Process.Pid)
	r.Remove(forgotten.Process.Pid)
	within(t, 2*time.Second, "reaper exit", func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	registered.Wait()
	if ws := registered.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("registered group: %v, want killed", registered.ProcessState)
	}
	if !proctree.Alive(forgotten.Process.Pid) {
		t.Errorf("a group removed from the reaper was killed")
	}
}

// syncWriter is a log destination the test reads while go-plugin writes.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
