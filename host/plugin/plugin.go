// Package plugin finds, launches and stops plugin binaries. It is the
// host's only user of go-plugin and gRPC's client side: everything above it
// sees a Process with typed clients.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
	"github.com/ferry-connect/ferry/sdk/go/handshake"
)

// Class is one class a plugin binary provides.
type Class struct {
	Spec          *pb.ClassSpec
	Binary        string
	PluginName    string
	PluginVersion string
}

// Type is the class's type as Kafka Connect's REST API names it.
func (c *Class) Type() string {
	switch c.Spec.Kind {
	case pb.PluginKind_PLUGIN_KIND_SOURCE:
		return "source"
	case pb.PluginKind_PLUGIN_KIND_SINK:
		return "sink"
	case pb.PluginKind_PLUGIN_KIND_TRANSFORMATION:
		return "transformation"
	case pb.PluginKind_PLUGIN_KIND_PREDICATE:
		return "predicate"
	case pb.PluginKind_PLUGIN_KIND_CONVERTER:
		return "converter"
	}
	return "unknown"
}

// Catalog is what discovery found: classes by name and alias.
type Catalog struct {
	byName  map[string]*Class
	classes []*Class
}

// Find returns the class called name (canonical name or alias).
func (c *Catalog) Find(name string) (*Class, bool) {
	cl, ok := c.byName[name]
	return cl, ok
}

// Classes returns every class, sorted by name.
func (c *Catalog) Classes() []*Class { return c.classes }

// Launcher starts plugin processes.
type Launcher struct {
	// SocketDir holds the plugins' unix sockets; the worker owns it.
	SocketDir string
	Log       hclog.Logger
	// Reaper, if not nil, is told of every plugin's process group.
	Reaper *Reaper
	// Heartbeat is how long a plugin may leave a health check unanswered
	// before it is declared hung and killed (0: DefaultHeartbeat).
	Heartbeat time.Duration
	// Env is added to every plugin's environment (KEY=VALUE).
	Env []string
}

// Discover asks every executable in dirs (and their subdirectories, one
// level down) for its spec. A binary that is not a plugin, or fails, is
// reported in the returned errors and skipped.
func (l *Launcher) Discover(ctx context.Context, dirs []string) (*Catalog, []error) {
	cat := &Catalog{byName: map[string]*Class{}}
	var problems []error
	for _, bin := range executables(dirs, &problems) {
		spec, err := l.spec(ctx, bin)
		if err != nil {
			problems = append(problems, fmt.Errorf("plugin %s: %w", bin, err))
			continue
		}
		for _, cs := range spec.Classes {
			cl := &Class{Spec: cs, Binary: bin, PluginName: spec.Name, PluginVersion: spec.Version}
			if prev, dup := cat.byName[cs.Class]; dup {
				problems = append(problems, fmt.Errorf("plugin %s: class %s is already provided by %s; keeping the first", bin, cs.Class, prev.Binary))
				continue
			}
			cat.classes = append(cat.classes, cl)
			for _, n := range append([]string{cs.Class}, cs.Aliases...) {
				if _, taken := cat.byName[n]; !taken {
					cat.byName[n] = cl
				}
			}
		}
	}
	sort.Slice(cat.classes, func(i, j int) bool { return cat.classes[i].Spec.Class < cat.classes[j].Spec.Class })
	return cat, problems
}

// executables lists the plugin binaries in dirs and one level of their
// subdirectories. A binary that another user could have replaced is left
// out, with a problem naming it: the worker would run it with its own
// rights.
func executables(dirs []string, problems *[]error) []string {
	var out []string
	add := func(p string, dirs ...string) {
		if !isExecutable(p) {
			return
		}
		if err := untrusted(p, dirs...); err != nil {
			*problems = append(*problems, fmt.Errorf("plugin.path: refusing to run %s: %w", p, err))
			return
		}
		out = append(out, p)
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			*problems = append(*problems, fmt.Errorf("plugin.path %s: %w", dir, err))
			continue
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				sub, _ := os.ReadDir(p)
				for _, s := range sub {
					add(filepath.Join(p, s.Name()), dir, p)
				}
				continue
			}
			add(p, dir)
		}
	}
	return out
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// untrusted says why bin may have been written by another user: it, the
// directories it was found through, or (when it is a symlink) the file and
// directory it resolves to, are writable by others, writable by a group
// other than the worker's own (with user private groups, as on Debian and
// Ubuntu, a umask of 002 leaves files writable by the owner's group, which
// holds only the owner), or owned by a user other than root and the
// worker's.
func untrusted(bin string, dirs ...string) error {
	paths := append([]string{bin}, dirs...)
	if real, err := filepath.EvalSymlinks(bin); err == nil && real != bin {
		paths = append(paths, real, filepath.Dir(real))
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		perm := st.Mode().Perm()
		switch {
		case perm&0o002 != 0:
			return fmt.Errorf("%s is writable by all users (mode %04o)", p, perm)
		case perm&0o020 != 0 && int(sys.Gid) != os.Getegid():
			return fmt.Errorf("%s is writable by group %d (mode %04o)", p, sys.Gid, perm)
		case sys.Uid != 0 && int(sys.Uid) != os.Geteuid():
			return fmt.Errorf("%s is owned by another user (uid %d)", p, sys.Uid)
		}
	}
	return nil
}

func (l *Launcher) spec(ctx context.Context, bin string) (*pb.SpecResponse, error) {
	p, err := l.Launch(ctx, bin, "", Quiet(l.Log.Named("discovery")), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer p.Kill()
	ctx, cancel := p.Context(ctx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Second)
	defer cancelTimeout()
	spec, err := p.Plugin.Spec(ctx, &pb.SpecRequest{ProtocolVersion: handshake.ProtocolVersion})
	if err != nil {
		return nil, fmt.Errorf("ask for spec: %w", p.CallErr(err))
	}
	return spec, nil
}

// Process is one running plugin process and its gRPC clients. Every call
// on the clients should use a context from Context, so that it ends when
// the process dies or hangs.
type Process struct {
	client    *goplugin.Client
	runner    *procRunner
	log       hclog.Logger
	Plugin    pb.PluginServiceClient
	Connector pb.ConnectorServiceClient
	Source    pb.SourceTaskServiceClient
	Sink      pb.SinkTaskServiceClient

	// life ends, with the reason as its cause, when the process has
	// exited or has been declared hung.
	life      context.Context
	end       context.CancelCauseFunc
	watchDone chan struct{}
	stopping  chan struct{} // closed when Kill begins
	killOnce  sync.Once
	killed    chan struct{} // closed when Kill is done
}

// pluginEnv is all a plugin inherits from the worker's environment: a
// plugin gets no credentials it was not configured with. Go's runtime
// settings pass down, so that GOGC or GOMEMLIMIT set for a worker applies
// to its plugins too (GORACE too: the tests use it to spare race-enabled
// plugins their second of sleep at exit).
var pluginEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL", "GOGC", "GOMEMLIMIT", "GORACE"}

// Launch starts bin and connects to it; startTimeout bounds the handshake.
// Its stderr goes to log. owner (a connector name, or "") is passed to the
// plugin as FERRY_CONNECTOR, so its process can be told apart in ps. A
// plugin that fails to start is killed, with its process group, and the
// error quotes the last lines it wrote to stderr.
//
// Cancelling ctx kills a plugin still starting; once Launch has returned,
// ctx no longer matters (Kill ends the process).
func (l *Launcher) Launch(ctx context.Context, bin, owner string, log hclog.Logger, startTimeout time.Duration) (*Process, error) {
	env := []string{"FERRY_CONNECTOR=" + owner}
	for _, k := range pluginEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, l.Env...)
	socketDir, err := l.socketDir()
	if err != nil {
		return nil, err
	}
	var run *procRunner
	var started atomic.Pointer[procRunner]
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  handshake.Config,
		Plugins:          goplugin.PluginSet{handshake.PluginName: hostPlugin{}},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           log,
		SkipHostEnv:      true,
		// With a runner of its own, go-plugin makes a socket directory
		// under TempDir and tells the plugin to use it; Kill removes it.
		UnixSocketConfig: &goplugin.UnixSocketConfig{TempDir: socketDir},
		RunnerFunc: func(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
			cmd := exec.Command(bin)
			cmd.Env = slices.Concat(env, spec.Env) // go-plugin's handshake and socket settings
			run = newProcRunner(cmd, l.Reaper)
			started.Store(run)
			return run, nil
		},
		StartTimeout: startTimeout,
		SyncStdout:   os.Stdout,
		SyncStderr:   os.Stderr,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(handshake.MaxMessageBytes),
				grpc.MaxCallSendMsgSize(handshake.MaxMessageBytes),
				codec.CallOption()),
			grpc.WithInitialWindowSize(handshake.WindowBytes),
			grpc.WithInitialConnWindowSize(handshake.WindowBytes),
		},
	})
	p := &Process{client: client, log: log, watchDone: make(chan struct{}), stopping: make(chan struct{}), killed: make(chan struct{})}
	p.life, p.end = context.WithCancelCause(context.Background())
	stopStart := context.AfterFunc(ctx, func() {
		if r := started.Load(); r != nil {
			r.Kill(context.Background())
		}
	})
	rpc, err := client.Client()
	stopStart()
	p.runner = run
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		close(p.watchDone)
		p.Kill()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("start %s: %w", bin, ctx.Err())
		}
		return nil, startError(bin, run, err)
	}
	raw, err := rpc.Dispense(handshake.PluginName)
	if err != nil {
		close(p.watchDone)
		p.Kill()
		return nil, fmt.Errorf("connect to %s: %w", bin, err)
	}
	conn := raw.(*grpc.ClientConn)
	p.Plugin = pb.NewPluginServiceClient(conn)
	p.Connector = pb.NewConnectorServiceClient(conn)
	p.Source = pb.NewSourceTaskServiceClient(conn)
	p.Sink = pb.NewSinkTaskServiceClient(conn)
	heartbeat := l.Heartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	go p.watch(healthpb.NewHealthClient(conn), heartbeat)
	return p, nil
}

// maxSocketPath is the longest path a unix socket can have on Linux
// (sun_path holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// socketDir creates the socket directory and returns how to name it: a
// plugin's socket is SocketDir/plugin-dirN/pluginN, and when that would be
// too long as an absolute path, the path relative to the working
// directory (which plugins share with the worker) may still fit.
func (l *Launcher) socketDir() (string, error) {
	if err := os.MkdirAll(l.SocketDir, 0o700); err != nil {
		return "", fmt.Errorf("create socket dir: %w", err)
	}
	const socketNames = len("/plugin-dir1234567890/plugin1234567890")
	dir := l.SocketDir
	if len(dir)+socketNames <= maxSocketPath {
		return dir, nil
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, dir); err == nil && len(rel)+socketNames <= maxSocketPath {
			return rel, nil
		}
	}
	return "", fmt.Errorf("plugin socket dir %s: path too long for unix sockets (at most %d bytes with the socket's name): set ferry.data.dir to a shorter path", dir, maxSocketPath-socketNames)
}

// startError explains a failed start: how the process ended, if it did,
// and what it last wrote to stderr.
func startError(bin string, run *procRunner, err error) error {
	if run == nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	var why []string
	if st := run.exitStatus(); st != "" {
		why = append(why, st)
	}
	tail := run.tail.String()
	if tail != "" && !strings.Contains(err.Error(), tail) {
		why = append(why, "last lines on its stderr:\n"+tail)
	}
	if len(why) == 0 {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	return fmt.Errorf("start %s: %w (%s)", bin, err, strings.Join(why, "; "))
}

// DefaultHeartbeat is how long a plugin may leave a health check
// unanswered when the Launcher sets no Heartbeat.
const DefaultHeartbeat = 10 * time.Second

// watch ends the process's life when it exits, or when it leaves a health
// check unanswered for timeout: then it is hung (stopped, deadlocked,
// swapped out for good), and it is killed so that every call waiting on
// it fails at once. Health checks go out every timeout/4. watch returns
// when Kill begins.
func (p *Process) watch(health healthpb.HealthClient, timeout time.Duration) {
	defer close(p.watchDone)
	tick := time.NewTicker(max(timeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-p.runner.exited:
			p.end(fmt.Errorf("%w (%s)", ErrExited, p.runner.exitStatus()))
			return
		case <-p.stopping:
			return
		case <-p.life.Done():
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(p.life, timeout)
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
		cancel()
		// Any answer, even an error status, shows the process is alive
		// and serving; no answer within timeout shows it is not.
		if status.Code(err) != codes.DeadlineExceeded || p.life.Err() != nil {
			continue
		}
		select {
		case <-p.runner.exited:
			continue // reported above
		case <-p.stopping:
			return
		default:
		}
		p.end(fmt.Errorf("%w: no answer to a health check within %s (stopped or deadlocked?)", ErrUnresponsive, timeout))
		if err := p.runner.Kill(context.Background()); err != nil {
			p.log.Error("kill hung plugin", "error", err)
		}
		return
	}
}

// Done is closed when the process has exited or has been declared hung;
// Err then says which.
func (p *Process) Done() <-chan struct{} { return p.life.Done() }

// Err is nil while the process runs, and then why it ended: an error
// wrapping ErrExited or ErrUnresponsive, or the cause given to Abort.
func (p *Process) Err() error {
	if p.life.Err() == nil {
		return nil
	}
	return context.Cause(p.life)
}

// Context returns a context for calls on the process: it is done when
// parent is, and when the process's life ends (with that as its cause).
func (p *Process) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	stop := context.AfterFunc(p.life, func() { cancel(context.Cause(p.life)) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}

// CallErr returns why the process ended if it has, else err: a call that
// failed because the plugin died reports that, not gRPC's view of it.
func (p *Process) CallErr(err error) error {
	if cause := p.Err(); cause != nil {
		return cause
	}
	return err
}

// Abort kills the process and its group at once, with cause as the
// reason Err reports; it does not wait (Kill does).
func (p *Process) Abort(cause error) {
	p.end(cause)
	if err := p.runner.Kill(context.Background()); err != nil {
		p.log.Error("kill plugin", "error", err)
	}
}

// killGrace is how long Kill waits for a plugin to exit after go-plugin
// asked it to, before it kills the plugin's process group; killWait bounds
// the wait after that.
const (
	killGrace = 3 * time.Second
	killWait  = 5 * time.Second
)

// Kill stops the process: go-plugin's graceful shutdown, then after
// killGrace SIGKILL of its process group. It returns once the process is
// gone and go-plugin has cleaned up (its socket directory included), and
// at the latest after killGrace+killWait. It is safe to call more than
// once and from several goroutines: each call returns when the first is
// done.
func (p *Process) Kill() {
	p.killOnce.Do(func() {
		defer close(p.killed)
		close(p.stopping)
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.client.Kill()
		}()
		select {
		case <-done:
		case <-time.After(killGrace):
			p.log.Warn("plugin did not exit in time; killing its process group", "grace", killGrace)
			if p.runner != nil {
				if err := p.runner.Kill(context.Background()); err != nil {
					p.log.Error("kill plugin", "error", err)
				}
			}
			select {
			case <-done:
			case <-time.After(killWait):
				p.log.Error("plugin still not gone after SIGKILL; giving up on it", "wait", killWait)
			}
		}
		<-p.watchDone
		p.end(ErrExited)
		if p.runner != nil {
			p.runner.close()
		}
	})
	<-p.killed
}

// Quiet keeps only warnings and errors of a short-lived launch (discovery,
// validation): go-plugin reports every normal exit at info level. It takes
// effect where the logger was made with IndependentLevels.
func Quiet(log hclog.Logger) hclog.Logger {
	if log.IsDebug() {
		return log
	}
	log.SetLevel(hclog.Warn)
	return log
}

// SweepSockets removes what killed plugins left in the socket directory.
func (l *Launcher) SweepSockets() error {
	entries, err := os.ReadDir(l.SocketDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep plugin sockets: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "plugin") {
			os.RemoveAll(filepath.Join(l.SocketDir, e.Name()))
		}
	}
	return nil
}

// hostPlugin hands go-plugin's connection to the host unchanged.
type hostPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (hostPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host serves no plugin")
}

func (hostPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return conn, nil
}
