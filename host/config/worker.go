package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Worker is a standalone worker's configuration.
type Worker struct {
	// BootstrapServers is empty when the embedded broker should run.
	BootstrapServers string
	KeyConverter     Converter
	ValueConverter   Converter
	// OffsetsFile is offset.storage.file.filename.
	OffsetsFile   string
	FlushInterval time.Duration
	FlushTimeout  time.Duration
	// ShutdownTimeout is task.shutdown.graceful.timeout.ms: how long a
	// stop waits for tasks to finish gracefully before their plugins are
	// killed.
	ShutdownTimeout time.Duration
	// HeartbeatTimeout is ferry.plugin.heartbeat.timeout.ms: a plugin that
	// answers no health check for this long is declared hung and killed.
	HeartbeatTimeout time.Duration
	// StartupTimeout is ferry.startup.timeout.ms: how long start-up waits
	// for Kafka to answer before the worker gives up.
	StartupTimeout time.Duration
	// AllowedPaths is ferry.allowed.paths: the directories connectors that
	// work with local files may read and write; nil when unset (the worker
	// then picks its default).
	AllowedPaths []string
	PluginPath   []string
	// Listeners are the REST API's listeners, e.g. http://:8083.
	Listeners []string
	// AdminListener is the gRPC admin API's host:port (ferry.admin.listener).
	AdminListener string
	// DataDir holds Ferry's own state: connector configs, the embedded
	// broker's log, plugin sockets (ferry.data.dir).
	DataDir string
	// EmbeddedPort is the embedded broker's port; 0 picks a free one.
	EmbeddedPort int
	// Restart policy for failed connectors: up to RestartAttempts restarts
	// in a row, waiting RestartBackoff, doubling up to MaxRestartBackoff.
	RestartAttempts   int
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
	// Producer and Consumer are client settings from producer.* and
	// consumer.* keys, prefix removed.
	Producer map[string]string
	Consumer map[string]string
	// Raw is every key as given.
	Raw map[string]string
}

// Converter names a converter class with its settings (prefix removed).
type Converter struct {
	Class  string
	Config map[string]string
}

// Error lists every problem with a configuration; each names its key.
type Error struct {
	Source   string // file or connector name
	Problems []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %d configuration error(s): %s", e.Source, len(e.Problems), strings.Join(e.Problems, "; "))
}

// LoadWorker reads and validates a worker .properties file.
func LoadWorker(path string) (*Worker, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read worker config: %w", err)
	}
	props, err := ParseProperties(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewWorker(path, props)
}

// NewWorker applies defaults to props and validates them, for a
// standalone worker; source names the origin in errors. Keys it does not
// know are not errors, as in Kafka Connect: UnusedWorkerKeys lists them for
// the caller to log.
func NewWorker(source string, props map[string]string) (*Worker, error) {
	return newWorker(source, props, false)
}

func newWorker(source string, props map[string]string, distributed bool) (*Worker, error) {
	w := &Worker{Raw: props, Producer: Prefixed(props, "producer."), Consumer: Prefixed(props, "consumer.")}
	var problems []string
	bad := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	w.BootstrapServers = strings.TrimSpace(props["bootstrap.servers"])
	// Every key is spelt out in full here, so that a test can check that
	// the worker key table (keys.go) lists each.
	for _, conv := range []struct {
		key, prefix string
		dst         *Converter
	}{
		{"key.converter", "key.converter.", &w.KeyConverter},
		{"value.converter", "value.converter.", &w.ValueConverter},
	} {
		*conv.dst = Converter{Class: strings.TrimSpace(props[conv.key]), Config: Prefixed(props, conv.prefix)}
		if conv.dst.Class == "" {
			bad(conv.key, "missing required configuration with no default value")
		}
	}
	w.OffsetsFile = strings.TrimSpace(props["offset.storage.file.filename"])
	if w.OffsetsFile == "" && !distributed {
		bad("offset.storage.file.filename", "missing required configuration with no default value")
	}
	w.FlushInterval = positiveMS(props, "offset.flush.interval.ms", 60000, bad)
	w.FlushTimeout = positiveMS(props, "offset.flush.timeout.ms", 5000, bad)
	w.ShutdownTimeout = positiveMS(props, "task.shutdown.graceful.timeout.ms", 5000, bad)
	w.HeartbeatTimeout = positiveMS(props, "ferry.plugin.heartbeat.timeout.ms", 10000, bad)
	w.StartupTimeout = positiveMS(props, "ferry.startup.timeout.ms", 30000, bad)
	if v, ok := props["ferry.allowed.paths"]; ok {
		w.AllowedPaths = List(v)
		if w.AllowedPaths == nil {
			w.AllowedPaths = []string{}
		}
	}
	w.PluginPath = List(props["plugin.path"])
	w.Listeners = List(props["listeners"])
	if _, ok := props["listeners"]; !ok {
		w.Listeners = []string{"http://:8083"}
	}
	for _, l := range w.Listeners {
		if !strings.HasPrefix(l, "http://") {
			bad("listeners", "unsupported listener %q: only http:// is supported", l)
		}
	}
	w.AdminListener = strings.TrimSpace(props["ferry.admin.listener"])
	if _, ok := props["ferry.admin.listener"]; !ok {
		w.AdminListener = "127.0.0.1:8084"
	}
	w.DataDir = strings.TrimSpace(props["ferry.data.dir"])
	switch {
	case w.DataDir != "":
	case w.OffsetsFile != "":
		w.DataDir = filepath.Join(filepath.Dir(w.OffsetsFile), "ferry-data")
	default:
		w.DataDir = "ferry-data"
	}
	if p := strings.TrimSpace(props["ferry.embedded.port"]); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			bad("ferry.embedded.port", "invalid port %q", p)
		}
		w.EmbeddedPort = n
	}
	w.RestartBackoff = positiveMS(props, "ferry.restart.backoff.initial.ms", 250, bad)
	w.MaxRestartBackoff = positiveMS(props, "ferry.restart.backoff.max.ms", 30000, bad)
	w.RestartAttempts = 10
	if v, ok := props["ferry.restart.max.attempts"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			bad("ferry.restart.max.attempts", "invalid value %q: expected a non-negative integer", v)
		}
		w.RestartAttempts = n
	}
	if w.MaxRestartBackoff < w.RestartBackoff {
		bad("ferry.restart.backoff.initial.ms", "must be at most ferry.restart.backoff.max.ms")
	}
	if len(problems) > 0 {
		return nil, &Error{Source: source, Problems: problems}
	}
	return w, nil
}

// positiveMS reads a duration in milliseconds that must be at least 1:
// every such key is an interval or a timeout, and zero would mean a ticker
// that panics or a wait that gives up before it starts.
func positiveMS(props map[string]string, key string, def int64, bad func(string, string, ...any)) time.Duration {
	v, ok := props[key]
	if !ok {
		return time.Duration(def) * time.Millisecond
	}
	// At most a year: beyond that a duration in nanoseconds overflows soon.
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 1 || n > 365*24*3600*1000 {
		bad(key, "invalid value %q: expected a number of milliseconds from 1 to 31536000000", v)
		return time.Duration(def) * time.Millisecond
	}
	return time.Duration(n) * time.Millisecond
}

// List splits a comma-separated list, trimming blanks and dropping empties.
func List(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Prefixed returns the keys starting with prefix, with it removed.
func Prefixed(props map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		if strings.HasPrefix(k, prefix) {
			out[strings.TrimPrefix(k, prefix)] = v
		}
	}
	return out
}

// Connector holds the keys every connector has, validated.
type Connector struct {
	Name     string
	Class    string
	TasksMax int
	Topics   []string
	// KeyConverter and ValueConverter override the worker's when set.
	KeyConverter   *Converter
	ValueConverter *Converter
	Raw            map[string]string
}

// ErrNoName is returned for a connector config without a name.
var ErrNoName = errors.New("connector config has no name")

// ParseConnector checks the common connector keys of cfg. sink says whether
// the class is a sink (topics are then required). Every problem is named by
// key, and all are returned together.
//
// The name is trimmed of leading and trailing white space and control
// characters, as Kafka Connect trims it (String.trim) both in REST create
// and when it parses a STRING key; Name is the trimmed name. It must then
// be non-empty, hold no ISO control character (a "\n" in a name would
// split log lines) and not be "." or "..".
func ParseConnector(cfg map[string]string, sink bool) (*Connector, []KeyError) {
	name, present := connectorName(cfg)
	c := &Connector{Raw: cfg, Name: name, Class: strings.TrimSpace(cfg["connector.class"]), TasksMax: 1}
	var errs []KeyError
	if err := checkName(name, present); err != nil {
		errs = append(errs, *err)
	}
	if c.Class == "" {
		errs = append(errs, KeyError{"connector.class", "Missing required configuration \"connector.class\" which has no default value."})
	}
	if v, ok := cfg["tasks.max"]; ok {
		// tasks.max is an INT in Kafka Connect and an int32 on the wire
		// to the plugin: parse it as 32 bits, or 4294967297 would pass
		// here and reach the plugin as 1.
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		switch {
		case err != nil:
			errs = append(errs, KeyError{"tasks.max", fmt.Sprintf("Invalid value %s for configuration tasks.max: Not a number of type INT", printable(v))})
		case n < 1:
			errs = append(errs, KeyError{"tasks.max", fmt.Sprintf("Invalid value %d for configuration tasks.max: Value must be at least 1", n)})
		default:
			c.TasksMax = int(n)
		}
	}
	if sink {
		c.Topics = List(cfg["topics"])
		if len(c.Topics) == 0 && strings.TrimSpace(cfg["topics.regex"]) == "" {
			errs = append(errs, KeyError{"topics", "Must configure one of topics or topics.regex"})
		}
		if strings.TrimSpace(cfg["topics.regex"]) != "" {
			errs = append(errs, KeyError{"topics.regex", "topics.regex is not supported yet; list topics in topics"})
		}
	}
	for _, side := range []string{"key", "value"} {
		key := side + ".converter"
		class, ok := cfg[key]
		if !ok {
			continue
		}
		conv := &Converter{Class: strings.TrimSpace(class), Config: Prefixed(cfg, key+".")}
		if side == "key" {
			c.KeyConverter = conv
		} else {
			c.ValueConverter = conv
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	return c, errs
}

// KeyError is one problem with one configuration key.
type KeyError struct {
	Key     string
	Message string
}

func (e KeyError) Error() string { return e.Key + ": " + e.Message }

// connectorName returns cfg's name trimmed as Java's String.trim does
// (every character up to and including ' ', which covers the ASCII
// control characters), and whether the key is there at all.
func connectorName(cfg map[string]string) (string, bool) {
	name, ok := cfg["name"]
	return strings.TrimFunc(name, func(r rune) bool { return r <= ' ' }), ok
}

// checkName applies Kafka Connect's NonEmptyStringWithoutControlChars
// validator to a trimmed connector name, with its messages, and Ferry's
// own rule against "." and "..".
func checkName(name string, present bool) *KeyError {
	if !present {
		return &KeyError{"name", "Missing required configuration \"name\" which has no default value."}
	}
	if name == "" {
		// Kafka Connect's text, two spaces and all: it prints the
		// (empty) value between "value" and "for".
		return &KeyError{"name", "Invalid value  for configuration name: String may not be empty"}
	}
	var codes []string
	for _, r := range name {
		if isISOControl(r) {
			codes = append(codes, strconv.Itoa(int(r)))
		}
	}
	if len(codes) > 0 {
		return &KeyError{"name", fmt.Sprintf("Invalid value %s for configuration name: String may not contain control sequences but had the following ASCII chars: %s", printable(name), strings.Join(codes, ", "))}
	}
	if name == "." || name == ".." {
		// Ferry's rule, not Kafka Connect's: HTTP clients and Go's
		// ServeMux clean dot segments out of a URL path, so
		// GET /connectors/.. would never reach the connector.
		return &KeyError{"name", fmt.Sprintf("Invalid value %s for configuration name: a connector may not be named . or .. because REST URLs (/connectors/%s) cannot address it", name, name)}
	}
	return nil
}

// isISOControl is Java's Character.isISOControl: C0 controls, DEL and the
// C1 controls.
func isISOControl(r rune) bool {
	return r <= 0x1f || (r >= 0x7f && r <= 0x9f)
}

// printable returns v as Kafka Connect prints a value in an error, unless
// v holds a control character: then v is quoted Go-style, so that an error
// about a bad value cannot itself break a log line.
func printable(v string) string {
	if strings.IndexFunc(v, isISOControl) >= 0 {
		return strconv.Quote(v)
	}
	return v
}
