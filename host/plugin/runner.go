package plugin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin/runner"
	"golang.org/x/sys/unix"
)

// pipeDrain is how long a plugin's stdout and stderr are still read after
// it exits: enough for what it wrote last, without waiting on a process
// that left its group and still holds the pipes.
const pipeDrain = time.Second

// procRunner runs one plugin process for go-plugin, which would otherwise
// run it with its own exec runner. It differs where that runner let a
// plugin hold the worker up:
//   - the plugin leads a process group of its own, and killing it kills the
//     group: a wrapper script's children, or a child that inherited its
//     pipes, go with it; so does anything left of the group when the plugin
//     exits;
//   - its pipes are read for at most pipeDrain once it has exited, so a
//     process that escaped the group cannot keep go-plugin waiting;
//   - it gets no standard input (a plugin in a background process group
//     that read the worker's terminal would be stopped);
//   - its stderr keeps a tail for error messages, and plain text lines
//     (a crash, a plugin not written with the SDK) reach the worker's log
//     at info level instead of go-plugin's debug.
//
// go-plugin calls Start, then Wait from one goroutine and Kill from any.
type procRunner struct {
	cmd    *exec.Cmd
	reaper *Reaper
	tail   *lineTail

	stdout *os.File       // the read end of the plugin's stdout
	errRaw *os.File       // the read end of its stderr
	stderr *io.PipeReader // its stderr as go-plugin reads it

	pid    int
	exited chan struct{} // closed once the process is reaped

	mu      sync.Mutex // guards pid (while starting), reaped, killed and waitErr
	reaped  bool
	killed  bool // Kill signalled the process: its death is no failure of its own
	waitErr error
}

func newProcRunner(cmd *exec.Cmd, reaper *Reaper) *procRunner {
	return &procRunner{cmd: cmd, reaper: reaper, tail: &lineTail{max: tailLines}, exited: make(chan struct{})}
}

// Start starts the process and the two goroutines it owns: one copies
// stderr and ends at its end, the other reaps the process.
func (r *procRunner) Start(context.Context) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("plugin stdout: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("plugin stderr: %w", err)
	}
	r.cmd.Stdin = nil
	r.cmd.Stdout, r.cmd.Stderr = outW, errW
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = r.cmd.Start()
	// The child has its copies of the write ends; the pipes end when the
	// last of those closes.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	r.mu.Lock()
	r.pid = r.cmd.Process.Pid
	r.mu.Unlock()
	r.reaper.Add(r.pid)
	r.stdout, r.errRaw = outR, errR
	var pw *io.PipeWriter
	r.stderr, pw = io.Pipe()
	go r.copyStderr(pw)
	go r.wait()
	return nil
}

// wait reaps the process. Before it does, while the zombie still holds
// its id (so the group's id cannot have been reused), it kills what is
// left of the group.
func (r *procRunner) wait() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, r.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	r.mu.Lock()
	_ = syscall.Kill(-r.pid, syscall.SIGKILL)
	err := r.cmd.Wait()
	r.reaped, r.waitErr = true, err
	r.mu.Unlock()
	r.reaper.Remove(r.pid)
	deadline := time.Now().Add(pipeDrain)
	r.stdout.SetReadDeadline(deadline)
	r.errRaw.SetReadDeadline(deadline)
	close(r.exited)
}

// Wait blocks until the process has exited and been reaped. It returns
// nil for a process Kill ended: go-plugin logs a failed exit as an error,
// and a plugin the worker chose to kill has not failed (exitStatus still
// tells how it ended).
func (r *procRunner) Wait(ctx context.Context) error {
	select {
	case <-r.exited:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.killed {
		return nil
	}
	return r.waitErr
}

// Kill sends SIGKILL to the plugin's whole process group. It does not
// wait; Wait does.
func (r *procRunner) Kill(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reaped || r.pid == 0 {
		return nil
	}
	if err := syscall.Kill(-r.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill plugin process group %d: %w", r.pid, err)
	}
	r.killed = true
	return nil
}

// close releases the read end of stdout once go-plugin is done with it
// (its Kill has returned).
func (r *procRunner) close() {
	if r.stdout != nil {
		r.stdout.Close()
	}
}

// exitStatus says how the process ended ("" while it runs).
func (r *procRunner) exitStatus() string {
	select {
	case <-r.exited:
	default:
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waitErr == nil {
		return "exit status 0"
	}
	return r.waitErr.Error()
}

// Diagnose is what go-plugin adds to a failed handshake's error: what
// the plugin said last on stderr.
func (r *procRunner) Diagnose(context.Context) string {
	// A plugin that fails at start-up is usually exiting: give it a moment
	// to say why.
	select {
	case <-r.exited:
	case <-time.After(pipeDrain):
	}
	return r.tail.String()
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.cmd.Path }
func (r *procRunner) ID() string            { return strconv.Itoa(r.pid) }

// PluginToHost and HostToPlugin leave addresses as they are: the plugin
// shares the worker's file system and network.
func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// copyStderr feeds the plugin's stderr to go-plugin line by line, keeping
// a tail and tagging plain text lines with a level go-plugin logs. It
// ends when stderr ends (or its read deadline passes) and closes w.
func (r *procRunner) copyStderr(w *io.PipeWriter) {
	defer r.errRaw.Close()
	rd := bufio.NewReaderSize(r.errRaw, 64<<10)
	inPanic, continued := false, false
	for {
		line, err := rd.ReadSlice('\n')
		if len(line) > 0 {
			text := bytes.TrimRight(line, "\r\n")
			if !continued {
				r.tail.add(text)
			}
			if !inPanic && !continued && !isStructured(text) {
				if bytes.HasPrefix(text, []byte("panic: ")) || bytes.HasPrefix(text, []byte("fatal error: ")) {
					// go-plugin logs a Go crash at error level, as it is.
					inPanic = true
				} else if !hasLevelTag(text) {
					line = append([]byte("[INFO] "), line...)
				}
			}
			if _, werr := w.Write(line); werr != nil {
				break
			}
			// A line longer than the buffer comes in pieces: only its
			// first is a line's start.
			continued = line[len(line)-1] != '\n'
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
	}
	w.Close()
}

// isStructured reports whether line is an hclog JSON line that go-plugin
// can take: go-plugin asserts its @-fields are strings, so a plugin that
// wrote {"@message": 1} would otherwise crash the worker.
func isStructured(line []byte) bool {
	if len(line) == 0 || line[0] != '{' {
		return false
	}
	var raw map[string]any
	if json.Unmarshal(line, &raw) != nil {
		return false
	}
	for _, k := range []string{"@message", "@level", "@timestamp"} {
		if v, ok := raw[k]; ok {
			if _, isString := v.(string); !isString {
				return false
			}
		}
	}
	if ts, ok := raw["@timestamp"].(string); ok {
		if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
			return false
		}
	}
	return true
}

func hasLevelTag(line []byte) bool {
	for _, tag := range []string{"[TRACE]", "[DEBUG]", "[INFO]", "[WARN]", "[ERROR]"} {
		if bytes.HasPrefix(line, []byte(tag)) {
			return true
		}
	}
	return false
}

// tailLines is how many of a plugin's last stderr lines an error quotes.
const tailLines = 10

// lineTail keeps the last lines written to a plugin's stderr, each cut to
// a readable length; hclog JSON lines are kept as their level and message.
// Safe for concurrent use.
type lineTail struct {
	max   int
	mu    sync.Mutex
	lines []string
}

func (t *lineTail) add(line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	s := string(line)
	var entry struct {
		Level   string `json:"@level"`
		Message string `json:"@message"`
		Error   any    `json:"error"`
	}
	if isStructured(line) && json.Unmarshal(line, &entry) == nil && entry.Message != "" {
		s = entry.Level + ": " + entry.Message
		if entry.Error != nil {
			s += fmt.Sprintf(": %v", entry.Error)
		}
	}
	const maxLine = 500
	if len(s) > maxLine {
		s = s[:maxLine] + "..."
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == t.max {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, s)
}

// String returns the lines kept, one per line; "" if none.
func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// Interface guards.
var _ runner.Runner = (*procRunner)(nil)
