// Command ferry is the Ferry worker. `ferry standalone WORKER.properties
// CONNECTOR.properties...` runs it as Kafka Connect's connect-standalone.sh
// does.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/ferry-connect/ferry/host/admin"
	"github.com/ferry-connect/ferry/host/broker"
	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/convert"
	"github.com/ferry-connect/ferry/host/herder"
	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/offsets"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/host/rest"
	"github.com/ferry-connect/ferry/host/store"
	"github.com/ferry-connect/ferry/host/worker"
	"github.com/ferry-connect/ferry/sdk/go/gcfloor"
	"github.com/ferry-connect/ferry/sdk/go/handshake"
)

const usage = `usage:
  ferry standalone WORKER.properties [CONNECTOR.properties|CONNECTOR.json ...]
  ferry distributed WORKER.properties
  ferry broker [--data-dir DIR] [--port PORT]
  ferry version
  ferry [--admin HOST:PORT] connectors|plugins|validate ...   (ferry help for more)`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case reaperCommand:
		plugin.RunReaper(os.Stdin)
	case "standalone":
		if len(os.Args) < 3 {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		log := newLogger()
		if path := os.Getenv("FERRY_CPUPROFILE"); path != "" {
			stopProfile, err := cpuProfile(path)
			if err != nil {
				log.Error("cpu profile", "error", err)
				os.Exit(1)
			}
			defer stopProfile()
		}
		go gcfloor.Run(ctx, worker.GCFloor)
		if err := standalone(ctx, log, os.Args[2], os.Args[3:]); err != nil {
			log.Error("worker failed", "error", err)
			os.Exit(1)
		}
	case "distributed":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		log := newLogger()
		go gcfloor.Run(ctx, worker.GCFloor)
		if err := distributed(ctx, log, os.Args[2]); err != nil {
			log.Error("worker failed", "error", err)
			os.Exit(1)
		}
	case "broker":
		os.Exit(runBroker(os.Args[2:]))
	case "version":
		fmt.Println("ferry", rest.Version)
	case "help", "-h", "--help":
		fmt.Println(usage)
		fmt.Println(cliUsage)
	default:
		os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
	}
}

func newLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "ferry", Level: hclog.LevelFromString(envOr("FERRY_LOG_LEVEL", "info")), Output: os.Stderr, IndependentLevels: true})
}

// reaperCommand runs ferry as the worker's plugin reaper (see
// plugin.Reaper); the worker starts it, users never do.
const reaperCommand = "__plugin-reaper"

// cpuProfile writes the worker's CPU profile to path until the returned
// func runs (FERRY_CPUPROFILE, for `go tool pprof`).
func cpuProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// unlessStopped is err, or nil when the worker was told to stop while
// starting: then what failed is the start-up that was called off.
func unlessStopped(ctx context.Context, log hclog.Logger, err error) error {
	if ctx.Err() != nil {
		log.Info("stopped while starting", "interrupted", err)
		return nil
	}
	return err
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// node is what a worker of either mode sets up before its herder: the
// checked configuration, Kafka (or the embedded broker), the plugins and
// the REST listeners. close undoes it, in reverse order.
type node struct {
	wc        *config.Worker
	log       hclog.Logger
	bootstrap string
	clusterID string
	launcher  *plugin.Launcher
	catalog   *plugin.Catalog
	listeners []net.Listener
	workerID  string
	closers   []func()
}

func (n *node) close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
}

// start sets a worker up; a nil node and nil error mean it was told to
// stop while starting.
func start(ctx context.Context, log hclog.Logger, workerFile string, wc *config.Worker, distributed bool) (started *node, err error) {
	n := &node{wc: wc, log: log}
	defer func() {
		if started == nil {
			n.close()
		}
	}()
	for _, u := range config.UnusedWorkerKeys(wc.Raw, distributed) {
		if u.Status == config.KeyUnknown {
			log.Warn(workerFile + ": " + u.String())
		} else {
			log.Info(workerFile + ": " + u.String())
		}
	}
	// Kafka Connect refuses to start with a converter it cannot load;
	// without this check every task would fail, minutes of restarts later.
	for _, c := range []struct {
		key  string
		conv config.Converter
	}{{"key.converter", wc.KeyConverter}, {"value.converter", wc.ValueConverter}} {
		if _, err := convert.New(c.conv.Class, c.conv.Config); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", workerFile, c.key, err)
		}
	}
	// The data directory holds the embedded broker's log (every topic's
	// records), connector configs, offsets and plugin sockets: what Ferry
	// keeps there is private to the worker's user.
	if err := os.MkdirAll(wc.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create ferry.data.dir: %w", err)
	}
	if err := privateDir(filepath.Join(wc.DataDir, "sockets"), log); err != nil {
		return nil, err
	}
	allowed, err := allowedPaths(wc, log)
	if err != nil {
		return nil, err
	}

	// The reaper ends the plugins should this worker die without stopping
	// them; it is closed last, once every plugin is gone.
	reaper := startReaper(log)
	n.closers = append(n.closers, func() { reaper.Close() })

	n.bootstrap, n.clusterID = wc.BootstrapServers, "ferry-embedded"
	if n.bootstrap == "" {
		dir := filepath.Join(wc.DataDir, "broker")
		if err := privateDir(dir, log); err != nil {
			return nil, err
		}
		b, err := broker.Start(dir, wc.EmbeddedPort)
		if err != nil {
			return nil, err
		}
		n.closers = append(n.closers, b.Close)
		n.bootstrap = b.Addr()
		log.Info("no bootstrap.servers set: running the embedded Kafka broker", "bootstrap.servers", n.bootstrap, "data", dir)
	} else {
		// As Kafka Connect, refuse to start without a Kafka to talk to:
		// a worker that started anyway would show its sinks RUNNING for
		// ever while they read nothing.
		checkCtx, cancel := context.WithTimeout(ctx, wc.StartupTimeout)
		n.clusterID, err = kafka.ClusterID(checkCtx, n.bootstrap, wc.Producer)
		cancel()
		if err != nil {
			return nil, unlessStopped(ctx, log, fmt.Errorf("%s: bootstrap.servers: cannot reach Kafka at %s within ferry.startup.timeout.ms (%s): %w", workerFile, n.bootstrap, wc.StartupTimeout, err))
		}
		log.Info("connected to Kafka", "bootstrap.servers", n.bootstrap, "cluster.id", n.clusterID)
	}

	pluginPath := wc.PluginPath
	if len(pluginPath) == 0 {
		exe, err := os.Executable()
		if err == nil {
			pluginPath = []string{filepath.Join(filepath.Dir(exe), "plugins")}
		}
	}
	n.launcher = &plugin.Launcher{
		SocketDir: filepath.Join(wc.DataDir, "sockets"),
		Log:       log.Named("plugin"),
		Reaper:    reaper,
		Heartbeat: wc.HeartbeatTimeout,
		Env:       allowed,
	}
	if err := n.launcher.SweepSockets(); err != nil {
		log.Warn("sweep plugin sockets", "error", err)
	}
	catalog, problems := n.launcher.Discover(ctx, pluginPath)
	if ctx.Err() != nil {
		// Discovery was cut short: the catalog is incomplete, and its
		// missing classes are no error of the configuration.
		log.Info("stopped while starting")
		return nil, nil
	}
	for _, p := range problems {
		log.Warn("skipping plugin", "error", p)
	}
	for _, c := range catalog.Classes() {
		log.Info("plugin class", "class", c.Spec.Class, "type", c.Type(), "plugin", c.PluginName, "version", c.PluginVersion)
	}
	n.catalog = catalog
	if n.listeners, n.workerID, err = listen(wc.Listeners); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() {
		for _, l := range n.listeners {
			l.Close()
		}
	})
	return n, nil
}

func standalone(ctx context.Context, log hclog.Logger, workerFile string, connectorFiles []string) error {
	wc, err := config.LoadWorker(workerFile)
	if err != nil {
		return err
	}
	// Read every connector file first: a typo, or two files naming the
	// same connector, fails fast, before anything starts.
	connectors, err := config.LoadConnectors(connectorFiles)
	if err != nil {
		return err
	}
	n, err := start(ctx, log, workerFile, wc, false)
	if n == nil || err != nil {
		return err
	}
	defer n.close()
	offs, err := offsets.OpenFile(wc.OffsetsFile)
	if err != nil {
		return err
	}
	configs, err := store.OpenFileConfigs(filepath.Join(wc.DataDir, "connectors.json"))
	if err != nil {
		return err
	}
	statuses := store.NewMemoryStatus()
	w := worker.New(worker.Options{
		Config: wc, Bootstrap: n.bootstrap, ID: n.workerID, Launch: n.launcher, Offsets: offs,
		Statuses: statuses, TaskConfigs: configs.PutTasks, Log: log.Named("worker"),
	})
	defer w.Close()
	h := herder.NewStandalone(herder.Options{
		Configs: configs, Statuses: statuses, Worker: w, Catalog: n.catalog, Launch: n.launcher,
		WorkerID: n.workerID, Log: log.Named("herder"),
	})
	if err := h.Restore(ctx); err != nil {
		return unlessStopped(ctx, log, err)
	}
	for _, cfg := range connectors {
		if _, _, err := h.Put(ctx, cfg["name"], cfg); err != nil {
			return unlessStopped(ctx, log, fmt.Errorf("connector %s: %w", cfg["name"], err))
		}
		log.Info("connector created", "connector", cfg["name"])
	}
	return n.serve(ctx, h)
}

// serve answers the REST and admin APIs over h until ctx ends.
func (n *node) serve(ctx context.Context, h herder.Herder) error {
	log := n.log
	srv := &http.Server{Handler: rest.Handler(h, n.clusterID), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, len(n.listeners)+1)
	for _, l := range n.listeners {
		log.Info("REST API listening", "url", "http://"+l.Addr().String())
		go func() { errc <- srv.Serve(l) }()
	}
	grpcSrv := admin.NewServer(h, log.Named("admin"))
	if n.wc.AdminListener != "" {
		l, err := net.Listen("tcp", n.wc.AdminListener)
		if err != nil {
			return fmt.Errorf("ferry.admin.listener: %w", err)
		}
		log.Info("gRPC admin API listening", "addr", l.Addr().String())
		go func() { errc <- grpcSrv.Serve(l) }()
	}
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err := <-errc:
		return fmt.Errorf("admin API server: %w", err)
	}
	// Shutdown order: stop taking requests, then (deferred by the
	// caller) stop the connectors with their final commits, then the
	// embedded broker.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("REST shutdown", "error", err)
	}
	stopGRPC(grpcSrv, 5*time.Second)
	return nil
}

// stopGRPC stops the admin server gracefully, waiting at most timeout for
// calls in flight before it cuts them off.
func stopGRPC(s *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		s.Stop()
		<-done
	}
}

// privateDir creates dir, a directory only Ferry writes to, private to
// the worker's user, or makes it private if an earlier version left it
// open to others.
func privateDir(dir string, log hclog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
		log.Info("made a data directory private to this user", "dir", dir, "was", fmt.Sprintf("%04o", st.Mode().Perm()))
	}
	return nil
}

// allowedPaths returns the environment that tells plugins which local
// paths connectors may use: ferry.allowed.paths, or by default the working
// directory (unless that is / or the home directory, which would let
// anyone with access to the REST API read and write the user's files),
// and never the worker's own data.
func allowedPaths(wc *config.Worker, log hclog.Logger) ([]string, error) {
	dirs := wc.AllowedPaths
	if dirs == nil {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("ferry.allowed.paths: working directory: %w", err)
		}
		home, _ := os.UserHomeDir()
		if wd == "/" || wd == home {
			log.Warn("ferry.allowed.paths is not set and the working directory is too broad a default: file connectors may use no paths until it is set", "working.dir", wd)
		} else {
			dirs = []string{wd}
		}
	}
	resolved := make([]string, 0, len(dirs))
	for _, d := range dirs {
		r, err := realPath(d)
		if err != nil {
			return nil, fmt.Errorf("ferry.allowed.paths: %w", err)
		}
		resolved = append(resolved, r)
	}
	denied := []string{}
	for _, d := range []string{wc.DataDir, wc.OffsetsFile} {
		if d == "" {
			continue // no offsets file in distributed mode
		}
		r, err := realPath(d)
		if err != nil {
			return nil, fmt.Errorf("ferry.data.dir: %w", err)
		}
		denied = append(denied, r)
	}
	if len(resolved) > 0 {
		log.Info("connectors may use local files under", "ferry.allowed.paths", strings.Join(resolved, ","))
	}
	sep := string(os.PathListSeparator)
	return []string{
		handshake.EnvAllowedPaths + "=" + strings.Join(resolved, sep),
		handshake.EnvDeniedPaths + "=" + strings.Join(denied, sep),
	}, nil
}

// realPath makes p absolute and resolves its symlinks, if it exists.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

// startReaper starts the plugin reaper (this binary, re-run); without one
// the worker runs on, but a crash of it may leave plugins behind.
func startReaper(log hclog.Logger) *plugin.Reaper {
	exe, err := os.Executable()
	if err == nil {
		var r *plugin.Reaper
		if r, err = plugin.StartReaper(exe, []string{reaperCommand}, log.Named("reaper")); err == nil {
			return r
		}
	}
	log.Warn("no plugin reaper: plugins may outlive a crash of this worker", "error", err)
	return nil
}

// listen opens the REST listeners and derives the worker id (host:port of
// the first) that statuses report.
func listen(urls []string) ([]net.Listener, string, error) {
	var out []net.Listener
	id := ""
	for _, u := range urls {
		addr := strings.TrimPrefix(u, "http://")
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, "", fmt.Errorf("listeners: %w", err)
		}
		out = append(out, l)
		if id == "" {
			host, _, _ := net.SplitHostPort(addr)
			_, port, _ := net.SplitHostPort(l.Addr().String())
			if host == "" {
				host, _ = os.Hostname()
			}
			id = net.JoinHostPort(host, port)
		}
	}
	return out, id, nil
}
