// Package admin serves the gRPC admin API (ferry.admin.v1) over a herder:
// the same operations as the REST API, with gRPC status codes for the same
// errors.
package admin

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-connect/ferry/host/herder"
	"github.com/ferry-connect/ferry/host/store"
	adminv1 "github.com/ferry-connect/ferry/proto/gen/ferry/admin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
)

// NewServer returns a gRPC server with the admin service registered, with
// panic recovery and call logging.
func NewServer(w herder.Herder, log hclog.Logger) *grpc.Server {
	logger := logging.LoggerFunc(func(_ context.Context, level logging.Level, msg string, fields ...any) {
		switch level {
		case logging.LevelError:
			log.Error(msg, fields...)
		case logging.LevelWarn:
			log.Warn(msg, fields...)
		default:
			log.Debug(msg, fields...)
		}
	})
	s := grpc.NewServer(
		grpc.ChainUnaryInterceptor(
			logging.UnaryServerInterceptor(logger, logging.WithLogOnEvents(logging.FinishCall)),
			recovery.UnaryServerInterceptor(),
		),
		codec.ServerOption(),
	)
	adminv1.RegisterAdminServiceServer(s, &service{w: w})
	return s
}

type service struct {
	adminv1.UnimplementedAdminServiceServer
	w herder.Herder
}

// grpcErr maps service-layer errors to status codes.
func grpcErr(err error) error {
	var invalid *herder.InvalidConfigError
	var bad *herder.BadRequestError
	var remote *herder.RemoteError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, herder.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, herder.ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.As(err, &invalid), errors.As(err, &bad):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, herder.ErrRebalancing):
		return status.Error(codes.Unavailable, err.Error())
	case errors.As(err, &remote):
		// The leader's answer to a forwarded request, by its HTTP code.
		switch remote.Code {
		case http.StatusNotFound:
			return status.Error(codes.NotFound, err.Error())
		case http.StatusConflict:
			return status.Error(codes.AlreadyExists, err.Error())
		case http.StatusBadRequest:
			return status.Error(codes.InvalidArgument, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}

func infoProto(i *herder.Info) *adminv1.ConnectorInfo {
	out := &adminv1.ConnectorInfo{Name: i.Name, Config: i.Config, Type: i.Type}
	for t := 0; t < i.Tasks; t++ {
		out.Tasks = append(out.Tasks, &adminv1.TaskID{Connector: i.Name, Task: int32(t)})
	}
	return out
}

func statusProto(st *herder.Status) *adminv1.ConnectorStatus {
	out := &adminv1.ConnectorStatus{Name: st.Name, Type: st.Type,
		Connector: &adminv1.State{State: st.Connector.State, Trace: st.Connector.Trace, WorkerId: st.Connector.WorkerID}}
	for i, t := range st.Tasks {
		out.Tasks = append(out.Tasks, &adminv1.TaskStatus{Id: int32(i), State: &adminv1.State{State: t.State, Trace: t.Trace, WorkerId: t.WorkerID}})
	}
	return out
}

func (s *service) ListConnectors(context.Context, *adminv1.ListConnectorsRequest) (*adminv1.ListConnectorsResponse, error) {
	return &adminv1.ListConnectorsResponse{Names: s.w.Names()}, nil
}

func (s *service) CreateConnector(ctx context.Context, req *adminv1.CreateConnectorRequest) (*adminv1.ConnectorInfo, error) {
	cfg := map[string]string{}
	for k, v := range req.Config {
		cfg[k] = v
	}
	if req.Name != "" {
		if cfg["name"] != "" && cfg["name"] != req.Name {
			return nil, status.Errorf(codes.InvalidArgument, "name %q does not match config name %q", req.Name, cfg["name"])
		}
		cfg["name"] = req.Name
	}
	target := store.Started
	switch req.InitialState {
	case adminv1.InitialState_INITIAL_STATE_PAUSED:
		target = store.Paused
	case adminv1.InitialState_INITIAL_STATE_STOPPED:
		target = store.Stopped
	}
	info, err := s.w.Create(ctx, cfg, target)
	if err != nil {
		return nil, grpcErr(err)
	}
	return infoProto(info), nil
}

func (s *service) PutConnectorConfig(ctx context.Context, req *adminv1.PutConnectorConfigRequest) (*adminv1.PutConnectorConfigResponse, error) {
	cfg := map[string]string{}
	for k, v := range req.Config {
		cfg[k] = v
	}
	info, created, err := s.w.Put(ctx, req.Name, cfg)
	if err != nil {
		return nil, grpcErr(err)
	}
	return &adminv1.PutConnectorConfigResponse{Info: infoProto(info), Created: created}, nil
}

func (s *service) GetConnector(_ context.Context, req *adminv1.ConnectorRequest) (*adminv1.ConnectorInfo, error) {
	info, err := s.w.Get(req.Name)
	if err != nil {
		return nil, grpcErr(err)
	}
	return infoProto(info), nil
}

func (s *service) DeleteConnector(ctx context.Context, req *adminv1.ConnectorRequest) (*adminv1.Empty, error) {
	return &adminv1.Empty{}, grpcErr(s.w.Delete(ctx, req.Name))
}

func (s *service) GetConnectorStatus(_ context.Context, req *adminv1.ConnectorRequest) (*adminv1.ConnectorStatus, error) {
	st, err := s.w.Status(req.Name)
	if err != nil {
		return nil, grpcErr(err)
	}
	return statusProto(st), nil
}

func (s *service) ListTasks(_ context.Context, req *adminv1.ConnectorRequest) (*adminv1.ListTasksResponse, error) {
	tasks, err := s.w.Tasks(req.Name)
	if err != nil {
		return nil, grpcErr(err)
	}
	out := &adminv1.ListTasksResponse{}
	for _, t := range tasks {
		out.Tasks = append(out.Tasks, &adminv1.TaskInfo{Id: &adminv1.TaskID{Connector: t.Connector, Task: int32(t.Task)}, Config: t.Config})
	}
	return out, nil
}

func (s *service) PauseConnector(ctx context.Context, req *adminv1.ConnectorRequest) (*adminv1.Empty, error) {
	return &adminv1.Empty{}, grpcErr(s.w.SetTarget(ctx, req.Name, store.Paused))
}

func (s *service) ResumeConnector(ctx context.Context, req *adminv1.ConnectorRequest) (*adminv1.Empty, error) {
	return &adminv1.Empty{}, grpcErr(s.w.SetTarget(ctx, req.Name, store.Started))
}

func (s *service) StopConnector(ctx context.Context, req *adminv1.ConnectorRequest) (*adminv1.Empty, error) {
	return &adminv1.Empty{}, grpcErr(s.w.SetTarget(ctx, req.Name, store.Stopped))
}

func (s *service) RestartConnector(ctx context.Context, req *adminv1.RestartConnectorRequest) (*adminv1.ConnectorStatus, error) {
	st, err := s.w.Restart(ctx, req.Name, req.IncludeTasks, req.OnlyFailed)
	if err != nil {
		return nil, grpcErr(err)
	}
	return statusProto(st), nil
}

func (s *service) ListPlugins(_ context.Context, req *adminv1.ListPluginsRequest) (*adminv1.ListPluginsResponse, error) {
	out := &adminv1.ListPluginsResponse{}
	for _, p := range s.w.Plugins(req.ConnectorsOnly) {
		out.Plugins = append(out.Plugins, &adminv1.PluginInfo{Class: p.Class, Type: p.Type, Version: p.Version})
	}
	return out, nil
}

func (s *service) ValidateConfig(ctx context.Context, req *adminv1.ValidateConfigRequest) (*adminv1.ValidateConfigResponse, error) {
	errs, err := s.w.CheckConfig(ctx, req.Config)
	if err != nil {
		return nil, grpcErr(err)
	}
	out := &adminv1.ValidateConfigResponse{Name: req.Config["connector.class"], ErrorCount: int32(len(errs))}
	byKey := map[string]*adminv1.ConfigValue{}
	for k, v := range req.Config {
		byKey[k] = &adminv1.ConfigValue{Name: k, Value: v}
	}
	for _, e := range errs {
		cv := byKey[e.Key]
		if cv == nil {
			cv = &adminv1.ConfigValue{Name: e.Key}
			byKey[e.Key] = cv
		}
		cv.Errors = append(cv.Errors, e.Message)
	}
	for _, cv := range byKey {
		out.Configs = append(out.Configs, cv)
	}
	sortConfigs(out.Configs)
	return out, nil
}

func sortConfigs(cs []*adminv1.ConfigValue) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
}
