package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-connect/ferry/host/herder"
	"github.com/ferry-connect/ferry/host/store"
)

// Client forwards writes to another worker's REST API: a distributed
// follower's way to the leader (herder.Forwarder). Requests carry
// ?forward=false, so that the receiver does not forward them again.
type Client struct {
	HTTP *http.Client
}

// NewClient returns a client whose requests time out after timeout.
func NewClient(timeout time.Duration) *Client {
	return &Client{HTTP: &http.Client{Timeout: timeout}}
}

// do sends a JSON request and decodes a JSON answer into out (if not nil);
// an error status comes back as *herder.RemoteError with the leader's
// message. It returns the status code.
func (c *Client) do(ctx context.Context, method, base, path string, query url.Values, body, out any) (int, error) {
	if query == nil {
		query = url.Values{}
	}
	query.Set("forward", "false")
	u := strings.TrimSuffix(base, "/") + path + "?" + query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("forward %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, fmt.Errorf("forward %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("forward %s %s to the leader at %s: %w", method, path, base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("forward %s %s to the leader at %s: %w", method, path, base, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("the leader at %s answered %s", base, resp.Status)
		}
		return resp.StatusCode, &herder.RemoteError{Code: resp.StatusCode, Msg: e.Message}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("forward %s %s: answer from the leader at %s: %w", method, path, base, err)
		}
	}
	return resp.StatusCode, nil
}

// infoBody is ConnectorInfo's JSON.
type infoBody struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []json.RawMessage `json:"tasks"`
	Type   string            `json:"type"`
}

func (b *infoBody) info() *herder.Info {
	return &herder.Info{Name: b.Name, Config: b.Config, Tasks: len(b.Tasks), Type: b.Type}
}

func connectorPath(name string, rest ...string) string {
	return "/connectors/" + url.PathEscape(name) + strings.Join(rest, "")
}

// Create forwards POST /connectors.
func (c *Client) Create(ctx context.Context, base string, cfg map[string]string, target store.TargetState) (*herder.Info, error) {
	state := string(target)
	if target == store.Started {
		state = "RUNNING"
	}
	var out infoBody
	if _, err := c.do(ctx, http.MethodPost, base, "/connectors", nil, map[string]any{"name": cfg["name"], "config": cfg, "initial_state": state}, &out); err != nil {
		return nil, err
	}
	return out.info(), nil
}

// Put forwards PUT /connectors/{name}/config.
func (c *Client) Put(ctx context.Context, base, name string, cfg map[string]string) (*herder.Info, bool, error) {
	var out infoBody
	code, err := c.do(ctx, http.MethodPut, base, connectorPath(name, "/config"), nil, cfg, &out)
	if err != nil {
		return nil, false, err
	}
	return out.info(), code == http.StatusCreated, nil
}

// Delete forwards DELETE /connectors/{name}.
func (c *Client) Delete(ctx context.Context, base, name string) error {
	_, err := c.do(ctx, http.MethodDelete, base, connectorPath(name), nil, nil, nil)
	return err
}

// SetTarget forwards PUT /connectors/{name}/pause, resume or stop.
func (c *Client) SetTarget(ctx context.Context, base, name string, target store.TargetState) error {
	verb := map[store.TargetState]string{store.Started: "/resume", store.Paused: "/pause", store.Stopped: "/stop"}[target]
	_, err := c.do(ctx, http.MethodPut, base, connectorPath(name, verb), nil, nil, nil)
	return err
}

// Restart forwards POST /connectors/{name}/restart.
func (c *Client) Restart(ctx context.Context, base, name string, includeTasks, onlyFailed bool) (*herder.Status, error) {
	q := url.Values{"includeTasks": {strconv.FormatBool(includeTasks)}, "onlyFailed": {strconv.FormatBool(onlyFailed)}}
	var out struct {
		Name      string      `json:"name"`
		Connector stateBody   `json:"connector"`
		Tasks     []stateBody `json:"tasks"`
		Type      string      `json:"type"`
	}
	if _, err := c.do(ctx, http.MethodPost, base, connectorPath(name, "/restart"), q, nil, &out); err != nil {
		return nil, err
	}
	st := &herder.Status{Name: out.Name, Connector: out.Connector.state(), Type: out.Type}
	for _, t := range out.Tasks {
		st.Tasks = append(st.Tasks, t.state())
	}
	return st, nil
}

type stateBody struct {
	State    string `json:"state"`
	Trace    string `json:"trace"`
	WorkerID string `json:"worker_id"`
}

func (b stateBody) state() herder.State {
	return herder.State{State: b.State, Trace: b.Trace, WorkerID: b.WorkerID}
}

// PutTaskConfigs forwards POST /connectors/{name}/tasks.
func (c *Client) PutTaskConfigs(ctx context.Context, base, name string, configs []map[string]string) error {
	if configs == nil {
		configs = []map[string]string{}
	}
	_, err := c.do(ctx, http.MethodPost, base, connectorPath(name, "/tasks"), nil, configs, nil)
	return err
}

// Interface guard.
var _ herder.Forwarder = (*Client)(nil)
