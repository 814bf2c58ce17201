// Package rest serves Kafka Connect's REST API, with its JSON shapes and
// status codes, over a Herder.
package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-connect/ferry/host/herder"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/host/store"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// Version is reported by GET /.
var Version = "0.1.0"

// Handler returns the REST API over h; clusterID is reported by GET /.
//
// Every error, including an unknown path (404), a wrong method (405) and a
// panic in a handler (500), is answered with Kafka Connect's JSON error
// body. Request bodies are capped at maxBodyBytes (413). Endpoints under
// /connectors and /connector-plugins answer 415 to a Content-Type other
// than application/json, as Kafka Connect's resources (@Consumes JSON) do,
// and the three that read a body also to a missing one.
func Handler(h herder.Herder, clusterID string) http.Handler {
	a := &api{h: h, clusterID: clusterID}
	mux := http.NewServeMux()
	// Kafka Connect's RootResource declares no @Consumes.
	mux.HandleFunc("GET /{$}", a.root)
	for _, r := range []struct {
		pattern string
		body    bool // reads a JSON body
		h       http.HandlerFunc
	}{
		{"GET /connectors", false, a.list},
		{"POST /connectors", true, a.create},
		{"GET /connectors/{name}", false, a.get},
		{"DELETE /connectors/{name}", false, a.delete},
		{"GET /connectors/{name}/config", false, a.getConfig},
		{"PUT /connectors/{name}/config", true, a.putConfig},
		{"GET /connectors/{name}/status", false, a.status},
		{"GET /connectors/{name}/tasks", false, a.tasks},
		{"PUT /connectors/{name}/pause", false, a.target(store.Paused, http.StatusAccepted)},
		{"PUT /connectors/{name}/resume", false, a.target(store.Started, http.StatusAccepted)},
		{"PUT /connectors/{name}/stop", false, a.target(store.Stopped, http.StatusNoContent)},
		{"POST /connectors/{name}/restart", false, a.restart},
		{"GET /connector-plugins", false, a.plugins},
		{"GET /connector-plugins/{plugin}/config", false, a.pluginConfig},
		{"PUT /connector-plugins/{plugin}/config/validate", true, a.validate},
		{"GET /connectors/{name}/tasks/{task}/status", false, a.taskStatus},
		{"POST /connectors/{name}/tasks/{task}/restart", false, a.taskRestart},
		// Internal: a distributed worker hands its connector's task
		// configs to the leader.
		{"POST /connectors/{name}/tasks", true, a.putTasks},
	} {
		mux.Handle(r.pattern, forwarded(consumesJSON(r.body, r.h)))
	}
	return &guard{mux: mux}
}

// forwarded marks a request another worker forwarded (?forward=false, as
// Kafka Connect's forwarding adds) so that the herder does not forward it
// again.
func forwarded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("forward") == "false" {
			r = r.WithContext(herder.Forwarded(r.Context()))
		}
		h.ServeHTTP(rw, r)
	})
}

type api struct {
	h         herder.Herder
	clusterID string
}

func writeJSON(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	json.NewEncoder(rw).Encode(v)
}

func (a *api) root(rw http.ResponseWriter, _ *http.Request) {
	writeJSON(rw, http.StatusOK, map[string]string{"version": Version, "commit": "ferry", "kafka_cluster_id": a.clusterID})
}

func (a *api) list(rw http.ResponseWriter, r *http.Request) {
	names := a.h.Names()
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 {
		writeJSON(rw, http.StatusOK, names)
		return
	}
	out := map[string]map[string]any{}
	for _, n := range names {
		entry := map[string]any{}
		for _, e := range expand {
			switch e {
			case "status":
				if st, err := a.h.Status(n); err == nil {
					entry["status"] = statusJSON(st)
				}
			case "info":
				if info, err := a.h.Get(n); err == nil {
					entry["info"] = infoJSON(info)
				}
			}
		}
		out[n] = entry
	}
	writeJSON(rw, http.StatusOK, out)
}

func infoJSON(info *herder.Info) map[string]any {
	tasks := make([]map[string]any, info.Tasks)
	for i := range tasks {
		tasks[i] = map[string]any{"connector": info.Name, "task": i}
	}
	return map[string]any{"name": info.Name, "config": info.Config, "tasks": tasks, "type": info.Type}
}

func stateJSON(s herder.State) map[string]any {
	m := map[string]any{"state": s.State, "worker_id": s.WorkerID}
	if s.Trace != "" {
		m["trace"] = s.Trace
	}
	return m
}

func statusJSON(st *herder.Status) map[string]any {
	tasks := make([]map[string]any, len(st.Tasks))
	for i, t := range st.Tasks {
		tasks[i] = stateJSON(t)
		tasks[i]["id"] = i
	}
	return map[string]any{"name": st.Name, "connector": stateJSON(st.Connector), "tasks": tasks, "type": st.Type}
}

// decodeConfig reads a JSON request body into into. The guard has capped
// r.Body at maxBodyBytes, so the decoder never holds more than that; a
// declared Content-Length over the cap is refused before reading.
func decodeConfig(r *http.Request, into any) error {
	if r.ContentLength > maxBodyBytes {
		return errBodyTooLarge
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			return errBodyTooLarge
		}
		return &herder.BadRequestError{Msg: fmt.Sprintf("Request body is not valid JSON: %v", err)}
	}
	return nil
}

// decodeFlatConfig reads a request body that is a flat config map.
func decodeFlatConfig(r *http.Request) (map[string]string, error) {
	var body map[string]any
	if err := decodeConfig(r, &body); err != nil {
		return nil, err
	}
	return flatten(body)
}

// flatten turns JSON config values into strings; Kafka Connect accepts
// numbers and booleans too.
func flatten(m map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		case nil:
		default:
			return nil, &herder.BadRequestError{Msg: fmt.Sprintf("config value of %s must be a string", k)}
		}
	}
	return out, nil
}

func (a *api) create(rw http.ResponseWriter, r *http.Request) {
	var body struct {
		Name         string         `json:"name"`
		Config       map[string]any `json:"config"`
		InitialState string         `json:"initial_state"`
	}
	if err := decodeConfig(r, &body); err != nil {
		writeError(rw, err)
		return
	}
	name := strings.TrimSpace(body.Name)
	if name == "" {
		writeError(rw, &herder.BadRequestError{Msg: "Connector name must not be empty"})
		return
	}
	if body.Config == nil {
		writeError(rw, &herder.BadRequestError{Msg: "Connector config is missing"})
		return
	}
	cfg, err := flatten(body.Config)
	if err != nil {
		writeError(rw, err)
		return
	}
	if cfg["name"] != "" && cfg["name"] != name {
		writeError(rw, &herder.BadRequestError{Msg: fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", cfg["name"], name)})
		return
	}
	cfg["name"] = name
	// initial_state names the started state RUNNING, as Kafka Connect's
	// CreateConnectorRequest does.
	state := store.Started
	switch strings.ToUpper(body.InitialState) {
	case "", "RUNNING":
	case "PAUSED":
		state = store.Paused
	case "STOPPED":
		state = store.Stopped
	default:
		writeError(rw, &herder.BadRequestError{Msg: fmt.Sprintf("Invalid initial state %q: must be RUNNING, PAUSED or STOPPED", body.InitialState)})
		return
	}
	info, err := a.h.Create(r.Context(), cfg, state)
	if err != nil {
		writeError(rw, err)
		return
	}
	rw.Header().Set("Location", location(name))
	writeJSON(rw, http.StatusCreated, infoJSON(info))
}

func (a *api) putTasks(rw http.ResponseWriter, r *http.Request) {
	var configs []map[string]string
	if err := decodeConfig(r, &configs); err != nil {
		writeError(rw, err)
		return
	}
	if err := a.h.PutTaskConfigs(r.Context(), r.PathValue("name"), configs); err != nil {
		writeError(rw, err)
		return
	}
	rw.WriteHeader(http.StatusNoContent)
}

func (a *api) get(rw http.ResponseWriter, r *http.Request) {
	info, err := a.h.Get(r.PathValue("name"))
	if err != nil {
		writeError(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, infoJSON(info))
}

func (a *api) delete(rw http.ResponseWriter, r *http.Request) {
	if err := a.h.Delete(r.Context(), r.PathValue("name")); err != nil {
		writeError(rw, err)
		return
	}
	rw.WriteHeader(http.StatusNoContent)
}

func (a *api) getConfig(rw http.ResponseWriter, r *http.Request) {
	info, err := a.h.Get(r.PathValue("name"))
	if err != nil {
		writeError(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, info.Config)
}

func (a *api) putConfig(rw http.ResponseWriter, r *http.Request) {
	cfg, err := decodeFlatConfig(r)
	if err != nil {
		writeError(rw, err)
		return
	}
	name := r.PathValue("name")
	info, created, err := a.h.Put(r.Context(), name, cfg)
	if err != nil {
		writeError(rw, err)
		return
	}
	if created {
		rw.Header().Set("Location", location(name))
		writeJSON(rw, http.StatusCreated, infoJSON(info))
		return
	}
	writeJSON(rw, http.StatusOK, infoJSON(info))
}

func (a *api) status(rw http.ResponseWriter, r *http.Request) {
	st, err := a.h.Status(r.PathValue("name"))
	if err != nil {
		writeError(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, statusJSON(st))
}

func (a *api) tasks(rw http.ResponseWriter, r *http.Request) {
	tasks, err := a.h.Tasks(r.PathValue("name"))
	if err != nil {
		writeError(rw, err)
		return
	}
	out := make([]map[string]any, len(tasks))
	for i, t := range tasks {
		out[i] = map[string]any{"id": map[string]any{"connector": t.Connector, "task": t.Task}, "config": t.Config}
	}
	writeJSON(rw, http.StatusOK, out)
}

func (a *api) target(state store.TargetState, code int) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if err := a.h.SetTarget(r.Context(), r.PathValue("name"), state); err != nil {
			writeError(rw, err)
			return
		}
		rw.WriteHeader(code)
	}
}

func (a *api) restart(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	includeTasks := q.Get("includeTasks") == "true"
	onlyFailed := q.Get("onlyFailed") == "true"
	st, err := a.h.Restart(r.Context(), r.PathValue("name"), includeTasks, onlyFailed)
	if err != nil {
		writeError(rw, err)
		return
	}
	if !includeTasks && !onlyFailed {
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(rw, http.StatusAccepted, statusJSON(st))
}

func (a *api) plugins(rw http.ResponseWriter, r *http.Request) {
	connectorsOnly := r.URL.Query().Get("connectorsOnly") != "false"
	var out []map[string]any
	for _, p := range a.h.Plugins(connectorsOnly) {
		m := map[string]any{"class": p.Class, "type": p.Type}
		if p.Version != "" {
			m["version"] = p.Version
		}
		out = append(out, m)
	}
	writeJSON(rw, http.StatusOK, out)
}

// commonDefs are the keys every connector has, as Kafka Connect's
// ConnectorConfig declares them.
var commonDefs = []*pb.ConfigDef{
	{Name: "name", Type: pb.ConfigType_CONFIG_TYPE_STRING, Required: true, Importance: pb.Importance_IMPORTANCE_HIGH, Documentation: "Globally unique name to use for this connector.", Group: "Common", DisplayName: "Connector name"},
	{Name: "connector.class", Type: pb.ConfigType_CONFIG_TYPE_STRING, Required: true, Importance: pb.Importance_IMPORTANCE_HIGH, Documentation: "Name or alias of the class for this connector.", Group: "Common", DisplayName: "Connector class"},
	{Name: "tasks.max", Type: pb.ConfigType_CONFIG_TYPE_INT, DefaultValue: "1", HasDefault: true, Importance: pb.Importance_IMPORTANCE_HIGH, Documentation: "Maximum number of tasks to use for this connector.", Group: "Common", DisplayName: "Tasks max"},
	{Name: "key.converter", Type: pb.ConfigType_CONFIG_TYPE_CLASS, HasDefault: true, Importance: pb.Importance_IMPORTANCE_LOW, Documentation: "Converter class for keys; the worker's when unset.", Group: "Common", DisplayName: "Key converter class"},
	{Name: "value.converter", Type: pb.ConfigType_CONFIG_TYPE_CLASS, HasDefault: true, Importance: pb.Importance_IMPORTANCE_LOW, Documentation: "Converter class for values; the worker's when unset.", Group: "Common", DisplayName: "Value converter class"},
}

var topicsDef = &pb.ConfigDef{Name: "topics", Type: pb.ConfigType_CONFIG_TYPE_LIST, HasDefault: true, Importance: pb.Importance_IMPORTANCE_HIGH, Documentation: "List of topics to consume, separated by commas.", Group: "Common", DisplayName: "Topics"}

// validate answers PUT /connector-plugins/{plugin}/config/validate with
// Kafka Connect's ConfigInfos: every key's definition, value and errors.
func (a *api) validate(rw http.ResponseWriter, r *http.Request) {
	cfg, err := decodeFlatConfig(r)
	if err != nil {
		writeError(rw, err)
		return
	}
	name := r.PathValue("plugin")
	class, err := a.class(name)
	if err != nil {
		writeError(rw, err)
		return
	}
	if given := cfg["connector.class"]; given == "" {
		cfg["connector.class"] = class.Spec.Class
	} else if other, ok := a.h.Class(given); !ok || other != class {
		writeError(rw, &herder.BadRequestError{Msg: fmt.Sprintf("Included connector type %s does not match request type %s", given, name)})
		return
	}
	keyErrs, err := a.h.CheckConfig(r.Context(), cfg)
	if err != nil {
		writeError(rw, err)
		return
	}
	errs := map[string][]string{}
	for _, e := range keyErrs {
		errs[e.Key] = append(errs[e.Key], e.Message)
	}
	var groups []string
	var configs []map[string]any
	for _, d := range definitions(class) {
		if group := d["group"].(string); !slices.Contains(groups, group) {
			groups = append(groups, group)
		}
		name := d["name"].(string)
		value := d["default_value"]
		if v, ok := cfg[name]; ok {
			value = v
		}
		configs = append(configs, map[string]any{
			"definition": d,
			"value":      map[string]any{"name": name, "value": value, "recommended_values": []string{}, "errors": nonNil(errs[name]), "visible": true},
		})
		delete(errs, name)
	}
	for key, msgs := range errs { // problems with keys no definition names
		configs = append(configs, map[string]any{"definition": nil,
			"value": map[string]any{"name": key, "value": cfg[key], "recommended_values": []string{}, "errors": msgs, "visible": true}})
	}
	writeJSON(rw, http.StatusOK, map[string]any{"name": class.Spec.Class, "error_count": len(keyErrs), "groups": groups, "configs": configs})
}

// class finds a connector plugin by the name a URL gives (class, alias,
// or alias without its Connector suffix).
func (a *api) class(name string) (*plugin.Class, error) {
	if c, ok := a.h.Class(name); ok {
		return c, nil
	}
	if c, ok := a.h.Class(name + "Connector"); ok {
		return c, nil
	}
	return nil, fmt.Errorf("connector plugin %s %w", name, herder.ErrNotFound)
}

// definitions are a class's ConfigKeyInfos: the common connector keys, then
// the plugin's own, in Kafka Connect's JSON shape.
func definitions(class *plugin.Class) []map[string]any {
	defs := append([]*pb.ConfigDef{}, commonDefs...)
	if class.Spec.Kind == pb.PluginKind_PLUGIN_KIND_SINK {
		defs = append(defs, topicsDef)
	}
	defs = append(defs, class.Spec.Config...)
	var out []map[string]any
	seen := map[string]bool{}
	for _, d := range defs {
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		group, display := d.Group, d.DisplayName
		if group == "" {
			group = class.PluginName
		}
		if display == "" {
			display = d.Name
		}
		var def any
		if d.HasDefault && d.DefaultValue != "" {
			def = d.DefaultValue
		}
		out = append(out, map[string]any{
			"name": d.Name, "type": strings.TrimPrefix(d.Type.String(), "CONFIG_TYPE_"), "required": d.Required,
			"default_value": def, "importance": strings.TrimPrefix(d.Importance.String(), "IMPORTANCE_"),
			"documentation": d.Documentation, "group": group, "width": "NONE", "display_name": display,
			"dependents": []string{}, "order": len(out) + 1,
		})
	}
	return out
}

func (a *api) pluginConfig(rw http.ResponseWriter, r *http.Request) {
	class, err := a.class(r.PathValue("plugin"))
	if err != nil {
		writeError(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, definitions(class))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// task parses {task} and returns the connector's status and the task id.
func (a *api) task(r *http.Request) (*herder.Status, int, error) {
	st, err := a.h.Status(r.PathValue("name"))
	if err != nil {
		return nil, 0, err
	}
	id, err := strconv.Atoi(r.PathValue("task"))
	if err != nil || id < 0 || id >= len(st.Tasks) {
		return nil, 0, fmt.Errorf("Task %s-%s %w", r.PathValue("name"), r.PathValue("task"), herder.ErrNotFound)
	}
	return st, id, nil
}

func (a *api) taskStatus(rw http.ResponseWriter, r *http.Request) {
	st, id, err := a.task(r)
	if err != nil {
		writeError(rw, err)
		return
	}
	m := stateJSON(st.Tasks[id])
	m["id"] = id
	writeJSON(rw, http.StatusOK, m)
}

// taskRestart restarts a task; in Ferry a connector's tasks share its plugin
// process, so the connector restarts with all of them.
func (a *api) taskRestart(rw http.ResponseWriter, r *http.Request) {
	if _, _, err := a.task(r); err != nil {
		writeError(rw, err)
		return
	}
	if _, err := a.h.Restart(r.Context(), r.PathValue("name"), true, false); err != nil {
		writeError(rw, err)
		return
	}
	rw.WriteHeader(http.StatusNoContent)
}

// location is a connector's URL path, escaped as Kafka Connect's
// UriBuilder.path escapes it: a name may hold '/', '?', spaces or (until
// the config check refuses them) control characters.
func location(name string) string { return "/connectors/" + url.PathEscape(name) }
