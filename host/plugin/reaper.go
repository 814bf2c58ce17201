package plugin

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// Reaper is a small helper process that ends the worker's plugins when
// the worker dies without stopping them (SIGKILL, a crash, the OOM
// killer). Plugins built with the SDK notice their parent is gone and
// exit, but a wrapper script's children, a plugin in another language or
// a child a plugin started would live on. The worker tells the reaper the
// process group of each plugin it starts and ends; when the pipe between
// them breaks, the reaper kills every group it still knows of and exits.
//
// A nil *Reaper does nothing. Its methods are safe for concurrent use.
type Reaper struct {
	log  hclog.Logger
	cmd  *exec.Cmd
	mu   sync.Mutex // guards w and broken
	w    io.WriteCloser
	warn sync.Once
}

// StartReaper starts exe with args as the reaper process (exe must call
// RunReaper with its standard input).
func StartReaper(exe string, args []string, log hclog.Logger) (*Reaper, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{}
	cmd.Stderr = os.Stderr
	// Its own group: a signal to the worker's group (a terminal's ^C, a
	// `kill -- -PGID`) leaves it to do its job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start plugin reaper: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start plugin reaper: %w", err)
	}
	return &Reaper{log: log, cmd: cmd, w: w}, nil
}

// Add registers a plugin's process group.
func (r *Reaper) Add(pgid int) { r.send('+', pgid) }

// Remove forgets a process group that is gone.
func (r *Reaper) Remove(pgid int) { r.send('-', pgid) }

func (r *Reaper) send(op byte, pgid int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	if _, err := fmt.Fprintf(r.w, "%c%d\n", op, pgid); err != nil {
		r.warn.Do(func() {
			r.log.Warn("the plugin reaper is gone: plugins may outlive a crash of this worker", "error", err)
		})
	}
}

// Close ends the reaper: it kills any group still registered (none after
// a clean stop) and exits; Close waits for that.
func (r *Reaper) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	w := r.w
	r.w = nil
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	w.Close()
	if err := r.cmd.Wait(); err != nil {
		return fmt.Errorf("plugin reaper: %w", err)
	}
	return nil
}

// RunReaper is the reaper process: it reads "+PGID" and "-PGID" lines
// from in until in ends, then sends SIGKILL to every process group still
// registered. Signals that would end it early are ignored: the end of in
// is its only way out.
func RunReaper(in io.Reader) {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	groups := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		switch line[0] {
		case '+':
			groups[pgid] = true
		case '-':
			delete(groups, pgid)
		}
	}
	for pgid := range groups {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}
