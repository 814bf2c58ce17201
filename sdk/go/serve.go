package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
	"github.com/ferry-connect/ferry/sdk/go/gcfloor"
	"github.com/ferry-connect/ferry/sdk/go/handshake"
)

// Plugin is one plugin binary: a name, a version and the classes it serves.
type Plugin struct {
	Name    string
	Version string
	Sources []SourceConnector
	Sinks   []SinkConnector
}

// gcFloor is the heap below which a plugin's garbage collector is held
// back (see package gcfloor).
const gcFloor = 12 << 20

// Serve runs the plugin until the host stops it. Call it from main and
// nothing else: stdout belongs to the plugin protocol, so a plugin must
// never print to it; log through Logger instead.
//
// Run by hand (not by a Ferry host), it prints what it is and exits 1.
func Serve(p Plugin) {
	if os.Getenv(handshake.Config.MagicCookieKey) != handshake.Config.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "%s %s is a Ferry plugin: put it in a worker's plugin.path instead of running it\n", p.Name, p.Version)
		os.Exit(1)
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:       p.Name,
		Output:     os.Stderr,
		JSONFormat: true,
		Level:      hclog.Info,
	})
	go exitWithParent(log)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go gcfloor.Run(ctx, gcFloor)
	srv := &server{plugin: p, log: log}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake.Config,
		Plugins:         plugin.PluginSet{handshake.PluginName: &grpcPlugin{srv: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts,
				grpc.MaxRecvMsgSize(handshake.MaxMessageBytes),
				grpc.MaxSendMsgSize(handshake.MaxMessageBytes),
				grpc.InitialWindowSize(handshake.WindowBytes),
				grpc.InitialConnWindowSize(handshake.WindowBytes),
				codec.ServerOption())...)
		},
		Logger: log,
	})
}

// exitWithParent ends the plugin when the host dies: go-plugin leaves
// orphans behind otherwise. A new parent pid means the old one is gone.
func exitWithParent(log hclog.Logger) {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			log.Warn("host process is gone, exiting")
			os.Exit(2)
		}
	}
}

type loggerKey struct{}

// Logger returns the logger for a task or connector's ctx. Its lines reach
// the host's log, tagged with the connector and task.
func Logger(ctx context.Context) hclog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(hclog.Logger); ok {
		return l
	}
	return hclog.Default()
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterPluginServiceServer(s, &specServer{srv: g.srv})
	pb.RegisterConnectorServiceServer(s, &connectorServer{srv: g.srv})
	pb.RegisterSourceTaskServiceServer(s, &sourceServer{srv: g.srv})
	pb.RegisterSinkTaskServiceServer(s, &sinkServer{srv: g.srv})
	return nil
}

func (g *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("a plugin is not a host")
}

// server finds a class's declaration for the gRPC services.
type server struct {
	plugin Plugin
	log    hclog.Logger
}

// class is what sources and sinks have in common.
type class struct {
	class, taskClass, version string
	aliases                   []string
	config                    []ConfigDef
	validate                  func(Config) []ConfigError
	taskConfigs               func(Config, int) ([]Config, error)
	start                     func(context.Context, Config, *ConnectorContext) error
	kind                      pb.PluginKind
	source                    *SourceConnector
	sink                      *SinkConnector
}

func (s *server) classes() []class {
	var out []class
	for i := range s.plugin.Sources {
		c := &s.plugin.Sources[i]
		out = append(out, class{c.Class, c.TaskClass, c.Version, c.Aliases, c.Config, c.Validate, c.TaskConfigs, c.Start, pb.PluginKind_PLUGIN_KIND_SOURCE, c, nil})
	}
	for i := range s.plugin.Sinks {
		c := &s.plugin.Sinks[i]
		out = append(out, class{c.Class, c.TaskClass, c.Version, c.Aliases, c.Config, c.Validate, c.TaskConfigs, c.Start, pb.PluginKind_PLUGIN_KIND_SINK, nil, c})
	}
	return out
}

func (s *server) find(name string) (class, error) {
	for _, c := range s.classes() {
		if c.class == name {
			return c, nil
		}
		for _, a := range c.aliases {
			if a == name {
				return c, nil
			}
		}
	}
	return class{}, status.Errorf(codes.NotFound, "plugin %s has no class %q", s.plugin.Name, name)
}

// configure resolves cfg against c's definitions and runs its validator.
func (c class) configure(cfg map[string]string) (Config, []ConfigError) {
	resolved, errs := resolve(c.config, cfg)
	if len(errs) == 0 && c.validate != nil {
		errs = c.validate(resolved)
	}
	return resolved, errs
}

func configStatus(errs []ConfigError) error {
	msg := fmt.Sprintf("configuration has %d error(s):", len(errs))
	for _, e := range errs {
		msg += " " + e.Error() + ";"
	}
	return status.Error(codes.InvalidArgument, msg)
}

type specServer struct {
	pb.UnimplementedPluginServiceServer
	srv *server
}

func (s *specServer) Spec(context.Context, *pb.SpecRequest) (*pb.SpecResponse, error) {
	resp := &pb.SpecResponse{Name: s.srv.plugin.Name, Version: s.srv.plugin.Version}
	for _, c := range s.srv.classes() {
		cs := &pb.ClassSpec{Class: c.class, Aliases: c.aliases, Kind: c.kind, Version: c.version, TaskClass: c.taskClass}
		if cs.Version == "" {
			cs.Version = s.srv.plugin.Version
		}
		for _, d := range c.config {
			cs.Config = append(cs.Config, &pb.ConfigDef{
				Name:          d.Name,
				Type:          protoConfigType(d.Type),
				Required:      d.Required,
				DefaultValue:  d.Default,
				HasDefault:    !d.Required,
				Importance:    pb.Importance_IMPORTANCE_HIGH,
				Documentation: d.Doc,
			})
		}
		resp.Classes = append(resp.Classes, cs)
	}
	return resp, nil
}

func protoConfigType(t ConfigType) pb.ConfigType {
	switch t {
	case TypeInt:
		return pb.ConfigType_CONFIG_TYPE_INT
	case TypeLong:
		return pb.ConfigType_CONFIG_TYPE_LONG
	case TypeBoolean:
		return pb.ConfigType_CONFIG_TYPE_BOOLEAN
	case TypeDouble:
		return pb.ConfigType_CONFIG_TYPE_DOUBLE
	case TypeList:
		return pb.ConfigType_CONFIG_TYPE_LIST
	case TypePassword:
		return pb.ConfigType_CONFIG_TYPE_PASSWORD
	}
	return pb.ConfigType_CONFIG_TYPE_STRING
}

type connectorServer struct {
	pb.UnimplementedConnectorServiceServer
	srv *server

	mu      sync.Mutex // guards the fields below
	started class
	config  Config
	// raw is the config as the host gave it, before defaults: what a
	// connector without task configs of its own hands its one task, as
	// Kafka Connect's connectors return their props.
	raw     map[string]string
	cc      *ConnectorContext
	stop    context.CancelFunc // ends the connector's ctx; nil when stopped
	stopped chan struct{}
}

func (s *connectorServer) Validate(_ context.Context, req *pb.ValidateRequest) (*pb.ValidateResponse, error) {
	c, err := s.srv.find(req.Class)
	if err != nil {
		return nil, err
	}
	_, errs := c.configure(req.Config)
	resp := &pb.ValidateResponse{}
	for _, e := range errs {
		resp.Errors = append(resp.Errors, &pb.ConfigError{Key: e.Key, Message: e.Message})
	}
	return resp, nil
}

func (s *connectorServer) Start(_ context.Context, req *pb.StartRequest) (*pb.StartResponse, error) {
	c, err := s.srv.find(req.Class)
	if err != nil {
		return nil, err
	}
	cfg, errs := c.configure(req.Config)
	if len(errs) > 0 {
		return nil, configStatus(errs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return nil, status.Error(codes.FailedPrecondition, "connector is already started")
	}
	// The connector's ctx outlives this call: it ends with Stop.
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), loggerKey{}, s.srv.log))
	cc := &ConnectorContext{events: make(chan *pb.ConnectorEvent, 1), done: ctx.Done()}
	if c.start != nil {
		if err := c.start(ctx, cfg, cc); err != nil {
			cancel()
			return nil, status.Errorf(codes.FailedPrecondition, "start connector: %v", err)
		}
	}
	s.started, s.config, s.raw, s.cc, s.stop, s.stopped = c, cfg, maps.Clone(req.Config), cc, cancel, make(chan struct{})
	return &pb.StartResponse{}, nil
}

func (s *connectorServer) TaskConfigs(_ context.Context, req *pb.TaskConfigsRequest) (*pb.TaskConfigsResponse, error) {
	s.mu.Lock()
	started, cfg, raw := s.started, s.config, s.raw
	s.mu.Unlock()
	if cfg == nil {
		return nil, status.Error(codes.FailedPrecondition, "connector is not started")
	}
	configs := []Config{raw}
	if started.taskConfigs != nil {
		var err error
		if configs, err = started.taskConfigs(cfg, int(req.MaxTasks)); err != nil {
			return nil, status.Errorf(codes.Internal, "task configs: %v", err)
		}
	}
	resp := &pb.TaskConfigsResponse{}
	for _, tc := range configs {
		resp.Tasks = append(resp.Tasks, &pb.TaskConfig{Config: tc})
	}
	return resp, nil
}

func (s *connectorServer) Events(_ *pb.EventsRequest, stream pb.ConnectorService_EventsServer) error {
	s.mu.Lock()
	stopped, cc := s.stopped, s.cc
	s.mu.Unlock()
	if stopped == nil {
		return status.Error(codes.FailedPrecondition, "connector is not started")
	}
	for {
		select {
		case ev := <-cc.events:
			if err := stream.Send(ev); err != nil {
				return err
			}
		case <-stopped:
			return nil
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (s *connectorServer) Stop(context.Context, *pb.StopRequest) (*pb.StopResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		close(s.stopped)
		s.stop, s.stopped, s.config, s.raw, s.cc = nil, nil, nil, nil, nil
	}
	return &pb.StopResponse{}, nil
}

// taskStatus maps a task's error to the status the host sees.
func taskStatus(ctx context.Context, err error) error {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Unknown, err.Error())
}
