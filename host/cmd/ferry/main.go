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

	"github.com/ferry-connect/ferry/host/admin"
	"github.com/ferry-connect/ferry/host/broker"
	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/offsets"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/host/rest"
	"github.com/ferry-connect/ferry/host/worker"
	"github.com/ferry-connect/ferry/sdk/go/gcfloor"
)

const usage = `usage:
  ferry standalone WORKER.properties [CONNECTOR.properties|CONNECTOR.json ...]
  ferry version
  ferry [--admin HOST:PORT] connectors|plugins|validate ...   (ferry help for more)`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "standalone":
		if len(os.Args) < 3 {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		log := hclog.New(&hclog.LoggerOptions{Name: "ferry", Level: hclog.LevelFromString(envOr("FERRY_LOG_LEVEL", "info")), Output: os.Stderr, IndependentLevels: true})
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
	case "version":
		fmt.Println("ferry", rest.Version)
	case "help", "-h", "--help":
		fmt.Println(usage)
		fmt.Println(cliUsage)
	default:
		os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
	}
}

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

func standalone(ctx context.Context, log hclog.Logger, workerFile string, connectorFiles []string) error {
	wc, err := config.LoadWorker(workerFile)
	if err != nil {
		return err
	}
	// Read every connector file first: a typo fails fast, before anything
	// starts.
	var connectors []map[string]string
	for _, f := range connectorFiles {
		cfg, err := config.LoadConnector(f)
		if err != nil {
			return err
		}
		connectors = append(connectors, cfg)
	}
	if err := os.MkdirAll(wc.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}

	bootstrap, clusterID := wc.BootstrapServers, "ferry-embedded"
	if bootstrap == "" {
		dir := filepath.Join(wc.DataDir, "broker")
		b, err := broker.Start(dir, wc.EmbeddedPort)
		if err != nil {
			return err
		}
		defer b.Close()
		bootstrap = b.Addr()
		log.Info("no bootstrap.servers set: running the embedded Kafka broker", "bootstrap.servers", bootstrap, "data", dir)
	} else {
		clusterID = ""
	}

	pluginPath := wc.PluginPath
	if len(pluginPath) == 0 {
		exe, err := os.Executable()
		if err == nil {
			pluginPath = []string{filepath.Join(filepath.Dir(exe), "plugins")}
		}
	}
	launcher := &plugin.Launcher{SocketDir: filepath.Join(wc.DataDir, "sockets"), Log: log.Named("plugin")}
	if err := launcher.SweepSockets(); err != nil {
		log.Warn("sweep plugin sockets", "error", err)
	}
	catalog, problems := launcher.Discover(ctx, pluginPath)
	if ctx.Err() != nil {
		// Discovery was cut short: the catalog is incomplete, and its
		// missing classes are no error of the configuration.
		log.Info("stopped while starting")
		return nil
	}
	for _, p := range problems {
		log.Warn("skipping plugin", "error", p)
	}
	for _, c := range catalog.Classes() {
		log.Info("plugin class", "class", c.Spec.Class, "type", c.Type(), "plugin", c.PluginName, "version", c.PluginVersion)
	}

	store, err := offsets.OpenFile(wc.OffsetsFile)
	if err != nil {
		return err
	}
	listeners, workerID, err := listen(wc.Listeners)
	if err != nil {
		return err
	}
	w := worker.New(worker.Options{Config: wc, Bootstrap: bootstrap, ID: workerID, Catalog: catalog, Launch: launcher, Offsets: store, Log: log.Named("worker")})
	defer w.Close()
	if err := w.Restore(ctx); err != nil {
		return unlessStopped(ctx, log, err)
	}
	for _, cfg := range connectors {
		if _, _, err := w.Put(ctx, cfg["name"], cfg); err != nil {
			return unlessStopped(ctx, log, fmt.Errorf("connector %s: %w", cfg["name"], err))
		}
		log.Info("connector created", "connector", cfg["name"])
	}

	srv := &http.Server{Handler: rest.Handler(w, clusterID), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, len(listeners)+1)
	for _, l := range listeners {
		log.Info("REST API listening", "url", "http://"+l.Addr().String())
		go func() { errc <- srv.Serve(l) }()
	}
	grpcSrv := admin.NewServer(w, log.Named("admin"))
	if wc.AdminListener != "" {
		l, err := net.Listen("tcp", wc.AdminListener)
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
	// Shutdown order: stop taking requests, then (deferred) stop the
	// connectors with their final commits, then the embedded broker.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("REST shutdown", "error", err)
	}
	grpcSrv.GracefulStop()
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
