package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/ferry-connect/ferry/host/config"
	adminv1 "github.com/ferry-connect/ferry/proto/gen/ferry/admin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
)

const cliUsage = `usage: ferry [--admin HOST:PORT] COMMAND
  connectors list
  connectors create FILE [--paused|--stopped]   create from .properties or .json
  connectors put FILE                           create or replace
  connectors get|status|tasks|delete NAME
  connectors pause|resume|stop NAME
  connectors restart NAME [--include-tasks] [--only-failed]
  plugins [--all]
  validate FILE
The worker's gRPC admin address comes from --admin, else $FERRY_ADMIN,
else 127.0.0.1:8084 (ferry.admin.listener).`

// runCLI runs an admin command against a worker; it returns the exit code.
func runCLI(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("admin", envOr("FERRY_ADMIN", "127.0.0.1:8084"), "worker's gRPC admin address")
	fs.Usage = func() { fmt.Fprintln(stderr, cliUsage) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(codec.CallOption()))
	if err != nil {
		fmt.Fprintln(stderr, "ferry:", err)
		return 1
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := dispatch(ctx, adminv1.NewAdminServiceClient(conn), fs.Args())
	var usageErr usageError
	switch {
	case errors.As(err, &usageErr):
		fmt.Fprintln(stderr, "ferry:", err)
		fmt.Fprintln(stderr, cliUsage)
		return 2
	case err != nil:
		if st, ok := status.FromError(err); ok {
			fmt.Fprintf(stderr, "ferry: %s: %s\n", st.Code(), st.Message())
		} else {
			fmt.Fprintln(stderr, "ferry:", err)
		}
		return 1
	}
	out, err := render(resp)
	if err != nil {
		fmt.Fprintln(stderr, "ferry:", err)
		return 1
	}
	fmt.Fprintln(stdout, out)
	return 0
}

// render prints a response as stable, indented JSON with the proto field
// names (protojson alone varies its whitespace on purpose).
func render(m proto.Message) (string, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return "", err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	out, err := json.MarshalIndent(v, "", "  ")
	return string(out), err
}

type usageError string

func (e usageError) Error() string { return string(e) }

func dispatch(ctx context.Context, c adminv1.AdminServiceClient, args []string) (proto.Message, error) {
	if len(args) == 0 {
		return nil, usageError("no command")
	}
	switch args[0] {
	case "plugins":
		all := len(args) > 1 && args[1] == "--all"
		return c.ListPlugins(ctx, &adminv1.ListPluginsRequest{ConnectorsOnly: !all})
	case "validate":
		if len(args) != 2 {
			return nil, usageError("validate needs FILE")
		}
		cfg, err := config.LoadConnector(args[1])
		if err != nil {
			return nil, err
		}
		return c.ValidateConfig(ctx, &adminv1.ValidateConfigRequest{Config: cfg})
	case "connectors":
	default:
		return nil, usageError("unknown command " + args[0])
	}
	if len(args) < 2 {
		return nil, usageError("connectors needs a subcommand")
	}
	sub, rest := args[1], args[2:]
	if sub == "list" {
		return c.ListConnectors(ctx, &adminv1.ListConnectorsRequest{})
	}
	if len(rest) == 0 {
		return nil, usageError("connectors " + sub + " needs an argument")
	}
	name := &adminv1.ConnectorRequest{Name: rest[0]}
	switch sub {
	case "create", "put":
		cfg, err := config.LoadConnector(rest[0])
		if err != nil {
			return nil, err
		}
		if sub == "put" {
			return c.PutConnectorConfig(ctx, &adminv1.PutConnectorConfigRequest{Name: cfg["name"], Config: cfg})
		}
		state := adminv1.InitialState_INITIAL_STATE_RUNNING
		for _, f := range rest[1:] {
			switch f {
			case "--paused":
				state = adminv1.InitialState_INITIAL_STATE_PAUSED
			case "--stopped":
				state = adminv1.InitialState_INITIAL_STATE_STOPPED
			default:
				return nil, usageError("unknown flag " + f)
			}
		}
		return c.CreateConnector(ctx, &adminv1.CreateConnectorRequest{Name: cfg["name"], Config: cfg, InitialState: state})
	case "get":
		return c.GetConnector(ctx, name)
	case "status":
		return c.GetConnectorStatus(ctx, name)
	case "tasks":
		return c.ListTasks(ctx, name)
	case "delete":
		return c.DeleteConnector(ctx, name)
	case "pause":
		return c.PauseConnector(ctx, name)
	case "resume":
		return c.ResumeConnector(ctx, name)
	case "stop":
		return c.StopConnector(ctx, name)
	case "restart":
		req := &adminv1.RestartConnectorRequest{Name: rest[0]}
		for _, f := range rest[1:] {
			switch f {
			case "--include-tasks":
				req.IncludeTasks = true
			case "--only-failed":
				req.OnlyFailed = true
			default:
				return nil, usageError("unknown flag " + f)
			}
		}
		return c.RestartConnector(ctx, req)
	}
	return nil, usageError("unknown connectors subcommand " + sub)
}
