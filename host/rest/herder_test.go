package rest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/herder"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/host/store"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// fakeHerder is an in-memory Herder that answers as *herder.Standalone does,
// errors included, without plugins or Kafka.
type fakeHerder struct {
	mu         sync.Mutex
	connectors map[string]*fakeConnector
	classes    []*plugin.Class
	// panicOn makes Get and Status panic for that connector name.
	panicOn string
	// taskConfigs are what PutTaskConfigs took, by connector; forwarded
	// says whether the request came marked as forwarded.
	taskConfigs map[string][]map[string]string
	forwarded   bool
}

type fakeConnector struct {
	config map[string]string
	class  *plugin.Class
	target store.TargetState
}

var (
	fakeSource = &plugin.Class{PluginName: "file", PluginVersion: "0.1.0", Spec: &pb.ClassSpec{
		Class:   "org.apache.kafka.connect.file.FileStreamSourceConnector",
		Aliases: []string{"FileStreamSourceConnector", "FileStreamSource"},
		Kind:    pb.PluginKind_PLUGIN_KIND_SOURCE, Version: "0.1.0",
		Config: []*pb.ConfigDef{
			{Name: "file", Type: pb.ConfigType_CONFIG_TYPE_STRING, Required: true, Importance: pb.Importance_IMPORTANCE_HIGH},
			{Name: "topic", Type: pb.ConfigType_CONFIG_TYPE_STRING, Required: true, Importance: pb.Importance_IMPORTANCE_HIGH},
			{Name: "batch.size", Type: pb.ConfigType_CONFIG_TYPE_INT, DefaultValue: "2000", HasDefault: true, Importance: pb.Importance_IMPORTANCE_LOW},
		},
	}}
	fakeSink = &plugin.Class{PluginName: "file", PluginVersion: "0.1.0", Spec: &pb.ClassSpec{
		Class:   "org.apache.kafka.connect.file.FileStreamSinkConnector",
		Aliases: []string{"FileStreamSinkConnector", "FileStreamSink"},
		Kind:    pb.PluginKind_PLUGIN_KIND_SINK,
		Config: []*pb.ConfigDef{
			{Name: "file", Type: pb.ConfigType_CONFIG_TYPE_STRING, Required: true, Importance: pb.Importance_IMPORTANCE_HIGH},
		},
	}}
)

// newFakeHerder has the two file classes and one running source,
// "local-file-source".
func newFakeHerder() *fakeHerder {
	h := &fakeHerder{connectors: map[string]*fakeConnector{}, classes: []*plugin.Class{fakeSource, fakeSink}}
	h.connectors["local-file-source"] = &fakeConnector{
		config: map[string]string{"name": "local-file-source", "connector.class": "FileStreamSource", "file": "test.txt", "topic": "connect-test"},
		class:  fakeSource, target: store.Started,
	}
	return h
}

func (h *fakeHerder) get(name string) (*fakeConnector, error) {
	if name == h.panicOn && name != "" {
		panic("fake herder: asked for " + name)
	}
	c, ok := h.connectors[name]
	if !ok {
		return nil, fmt.Errorf("Connector %s %w", name, herder.ErrNotFound)
	}
	return c, nil
}

func (c *fakeConnector) info() *herder.Info {
	return &herder.Info{Name: c.config["name"], Config: maps.Clone(c.config), Tasks: c.tasks(), Type: c.class.Type()}
}

func (c *fakeConnector) tasks() int {
	if c.target == store.Stopped {
		return 0
	}
	n, err := strconv.Atoi(c.config["tasks.max"])
	if err != nil {
		return 1
	}
	return n
}

func (c *fakeConnector) status() *herder.Status {
	state := herder.State{State: string(c.target), WorkerID: "127.0.0.1:8083"}
	if c.target == store.Started {
		state.State = store.StateRunning
	}
	st := &herder.Status{Name: c.config["name"], Connector: state, Type: c.class.Type()}
	for range c.tasks() {
		st.Tasks = append(st.Tasks, state)
	}
	return st
}

// check mirrors the worker's: host/config's name rules, a known class,
// the class's required keys, a positive tasks.max.
func (h *fakeHerder) check(cfg map[string]string) (*plugin.Class, []config.KeyError) {
	var errs []config.KeyError
	name := cfg["name"]
	switch {
	case strings.TrimSpace(name) == "":
		errs = append(errs, config.KeyError{Key: "name", Message: "Missing required configuration \"name\" which has no default value."})
	case name == "." || name == "..", strings.ContainsFunc(name, unicode.IsControl):
		errs = append(errs, config.KeyError{Key: "name", Message: fmt.Sprintf("Invalid value %q: must not be . or .. nor contain control characters", name)})
	}
	class, ok := h.find(strings.TrimSpace(cfg["connector.class"]))
	if !ok {
		errs = append(errs, config.KeyError{Key: "connector.class", Message: fmt.Sprintf("Failed to find any class that implements Connector and which name matches %s", cfg["connector.class"])})
	} else {
		for _, d := range class.Spec.Config {
			if d.Required && cfg[d.Name] == "" {
				errs = append(errs, config.KeyError{Key: d.Name, Message: fmt.Sprintf("Missing required configuration %q which has no default value.", d.Name)})
			}
		}
	}
	if v, ok := cfg["tasks.max"]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			errs = append(errs, config.KeyError{Key: "tasks.max", Message: fmt.Sprintf("Invalid value %s: must be an integer of at least 1", v)})
		}
	}
	return class, errs
}

func (h *fakeHerder) find(name string) (*plugin.Class, bool) {
	for _, c := range h.classes {
		if c.Spec.Class == name || slices.Contains(c.Spec.Aliases, name) {
			return c, true
		}
	}
	return nil, false
}

func (h *fakeHerder) Names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.connectors))
}

func (h *fakeHerder) Get(name string) (*herder.Info, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.get(name)
	if err != nil {
		return nil, err
	}
	return c.info(), nil
}

func (h *fakeHerder) Status(name string) (*herder.Status, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.get(name)
	if err != nil {
		return nil, err
	}
	return c.status(), nil
}

func (h *fakeHerder) Tasks(name string) ([]herder.TaskInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.get(name)
	if err != nil {
		return nil, err
	}
	out := make([]herder.TaskInfo, c.tasks())
	for i := range out {
		cfg := maps.Clone(c.config)
		cfg["task.class"] = c.class.Spec.Class + "Task"
		out[i] = herder.TaskInfo{Connector: name, Task: i, Config: cfg}
	}
	return out, nil
}

func (h *fakeHerder) Create(_ context.Context, cfg map[string]string, target store.TargetState) (*herder.Info, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	class, errs := h.check(cfg)
	if len(errs) > 0 {
		return nil, &herder.InvalidConfigError{Errors: errs}
	}
	if _, ok := h.connectors[cfg["name"]]; ok {
		return nil, fmt.Errorf("connector %s %w", cfg["name"], herder.ErrExists)
	}
	c := &fakeConnector{config: maps.Clone(cfg), class: class, target: target}
	h.connectors[cfg["name"]] = c
	return c.info(), nil
}

func (h *fakeHerder) Put(_ context.Context, name string, cfg map[string]string) (*herder.Info, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cfg["name"] == "" {
		cfg["name"] = name
	}
	if cfg["name"] != name {
		return nil, false, &herder.BadRequestError{Msg: fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", cfg["name"], name)}
	}
	class, errs := h.check(cfg)
	if len(errs) > 0 {
		return nil, false, &herder.InvalidConfigError{Errors: errs}
	}
	target := store.Started
	old, exists := h.connectors[name]
	if exists {
		target = old.target
	}
	c := &fakeConnector{config: maps.Clone(cfg), class: class, target: target}
	h.connectors[name] = c
	return c.info(), !exists, nil
}

func (h *fakeHerder) Delete(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.get(name); err != nil {
		return err
	}
	delete(h.connectors, name)
	return nil
}

func (h *fakeHerder) SetTarget(_ context.Context, name string, target store.TargetState) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.get(name)
	if err != nil {
		return err
	}
	c.target = target
	return nil
}

func (h *fakeHerder) Restart(_ context.Context, name string, _, _ bool) (*herder.Status, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.get(name)
	if err != nil {
		return nil, err
	}
	return c.status(), nil
}

func (h *fakeHerder) CheckConfig(_ context.Context, cfg map[string]string) ([]config.KeyError, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, errs := h.check(cfg)
	return errs, nil
}

func (h *fakeHerder) Class(name string) (*plugin.Class, bool) { return h.find(name) }

func (h *fakeHerder) Plugins(connectorsOnly bool) []herder.PluginInfo {
	var out []herder.PluginInfo
	for _, c := range h.classes {
		out = append(out, herder.PluginInfo{Class: c.Spec.Class, Type: c.Type(), Version: c.Spec.Version})
	}
	if !connectorsOnly {
		out = append(out, herder.PluginInfo{Class: "org.apache.kafka.connect.json.JsonConverter", Type: "converter"})
	}
	return out
}

func (h *fakeHerder) PutTaskConfigs(ctx context.Context, name string, configs []map[string]string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.get(name); err != nil {
		return err
	}
	if h.taskConfigs == nil {
		h.taskConfigs = map[string][]map[string]string{}
	}
	h.taskConfigs[name] = configs
	h.forwarded = herder.IsForwarded(ctx)
	return nil
}

// Interface guards
var _ herder.Herder = (*fakeHerder)(nil)
