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
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

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

func executables(dirs []string, problems *[]error) []string {
	var out []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			*problems = append(*problems, fmt.Errorf("plugin.path %s: %w", dir, err))
			continue
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if e.IsDir() {
				sub, _ := os.ReadDir(p)
				for _, s := range sub {
					if isExecutable(filepath.Join(p, s.Name())) {
						out = append(out, filepath.Join(p, s.Name()))
					}
				}
				continue
			}
			if isExecutable(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

func (l *Launcher) spec(ctx context.Context, bin string) (*pb.SpecResponse, error) {
	p, err := l.Launch(bin, "", Quiet(l.Log.Named("discovery")), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer p.Kill()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	spec, err := p.Plugin.Spec(ctx, &pb.SpecRequest{ProtocolVersion: handshake.ProtocolVersion})
	if err != nil {
		return nil, fmt.Errorf("ask for spec: %w", err)
	}
	return spec, nil
}

// Process is one running plugin process and its gRPC clients.
type Process struct {
	client    *goplugin.Client
	Plugin    pb.PluginServiceClient
	Connector pb.ConnectorServiceClient
	Source    pb.SourceTaskServiceClient
	Sink      pb.SinkTaskServiceClient
}

// pluginEnv is all a plugin inherits from the worker's environment: a
// plugin gets no credentials it was not configured with. Go's GC settings
// pass down, so that GOGC or GOMEMLIMIT set for a worker applies to its
// plugins too.
var pluginEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL", "GOGC", "GOMEMLIMIT"}

// Launch starts bin and connects to it; startTimeout bounds the handshake.
// Its stderr goes to log. owner (a connector name, or "") is passed to the
// plugin as FERRY_CONNECTOR, so its process can be told apart in ps.
func (l *Launcher) Launch(bin, owner string, log hclog.Logger, startTimeout time.Duration) (*Process, error) {
	cmd := exec.Command(bin)
	cmd.Env = []string{"FERRY_CONNECTOR=" + owner}
	for _, k := range pluginEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if err := os.MkdirAll(l.SocketDir, 0o700); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  handshake.Config,
		Plugins:          goplugin.PluginSet{handshake.PluginName: hostPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           log,
		SkipHostEnv:      true,
		UnixSocketConfig: &goplugin.UnixSocketConfig{TempDir: l.SocketDir},
		StartTimeout:     startTimeout,
		SyncStdout:       os.Stdout,
		SyncStderr:       os.Stderr,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(handshake.MaxMessageBytes),
				grpc.MaxCallSendMsgSize(handshake.MaxMessageBytes),
				codec.CallOption()),
			grpc.WithInitialWindowSize(handshake.WindowBytes),
			grpc.WithInitialConnWindowSize(handshake.WindowBytes),
		},
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	raw, err := rpc.Dispense(handshake.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("connect to %s: %w", bin, err)
	}
	conn := raw.(*grpc.ClientConn)
	return &Process{
		client:    client,
		Plugin:    pb.NewPluginServiceClient(conn),
		Connector: pb.NewConnectorServiceClient(conn),
		Source:    pb.NewSourceTaskServiceClient(conn),
		Sink:      pb.NewSinkTaskServiceClient(conn),
	}, nil
}

// Exited reports whether the process has died.
func (p *Process) Exited() bool { return p.client.Exited() }

// Kill stops the process: a graceful shutdown, a bounded wait, then
// SIGKILL. It blocks until the process is gone and is safe to repeat.
func (p *Process) Kill() { p.client.Kill() }

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
