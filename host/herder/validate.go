package herder

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/convert"
	"github.com/ferry-connect/ferry/host/plugin"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// plugins validates connector configs against the installed plugins and
// describes them; both herders embed it.
type plugins struct {
	catalog *plugin.Catalog
	launch  *plugin.Launcher
	log     hclog.Logger
}

func (h *plugins) check(ctx context.Context, cfg map[string]string) (*plugin.Class, *config.Connector, []config.KeyError, error) {
	var errs []config.KeyError
	class, ok := h.catalog.Find(strings.TrimSpace(cfg["connector.class"]))
	if !ok && strings.TrimSpace(cfg["connector.class"]) != "" {
		var names []string
		for _, c := range h.catalog.Classes() {
			names = append(names, c.Spec.Class)
		}
		errs = append(errs, config.KeyError{Key: "connector.class", Message: fmt.Sprintf("Failed to find any class that implements Connector and which name matches %s, available connectors are: %s", cfg["connector.class"], strings.Join(names, ", "))})
	}
	sink := ok && class.Spec.Kind == pb.PluginKind_PLUGIN_KIND_SINK
	parsed, perrs := config.ParseConnector(cfg, sink)
	errs = append(errs, perrs...)
	for _, side := range []*config.Converter{parsed.KeyConverter, parsed.ValueConverter} {
		if side == nil {
			continue
		}
		key := "value.converter"
		if side == parsed.KeyConverter {
			key = "key.converter"
		}
		if _, err := convert.New(side.Class, side.Config); err != nil {
			errs = append(errs, config.KeyError{Key: key, Message: err.Error()})
		}
	}
	if ok {
		perrs, err := h.pluginValidate(ctx, class, cfg)
		if err != nil {
			return nil, nil, nil, err
		}
		errs = append(errs, perrs...)
	}
	return class, parsed, errs, nil
}

// validateTimeout bounds a plugin's validation of a config, start-up
// included.
const validateTimeout = 30 * time.Second

func (h *plugins) pluginValidate(ctx context.Context, class *plugin.Class, cfg map[string]string) ([]config.KeyError, error) {
	p, err := h.launch.Launch(ctx, class.Binary, "", plugin.Quiet(h.log.Named("validate")), 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("validate with plugin %s: %w", class.PluginName, err)
	}
	defer p.Kill()
	ctx, cancel := p.Context(ctx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, validateTimeout)
	defer cancelTimeout()
	resp, err := p.Connector.Validate(ctx, &pb.ValidateRequest{Class: class.Spec.Class, Config: cfg})
	if err != nil {
		return nil, fmt.Errorf("validate with plugin %s: %w", class.PluginName, p.CallErr(err))
	}
	var errs []config.KeyError
	for _, e := range resp.Errors {
		errs = append(errs, config.KeyError{Key: e.Key, Message: e.Message})
	}
	return errs, nil
}

// resolve finds a stored connector's class and parses its common keys,
// without asking the plugin: the config was validated when it was stored.
func (h *plugins) resolve(cfg map[string]string) (*plugin.Class, *config.Connector, error) {
	name := strings.TrimSpace(cfg["connector.class"])
	class, ok := h.catalog.Find(name)
	if !ok {
		return nil, nil, &InvalidConfigError{Errors: []config.KeyError{{Key: "connector.class", Message: fmt.Sprintf("connector class %s is not installed", name)}}}
	}
	parsed, errs := config.ParseConnector(cfg, class.Spec.Kind == pb.PluginKind_PLUGIN_KIND_SINK)
	if len(errs) > 0 {
		return nil, nil, &InvalidConfigError{Errors: errs}
	}
	return class, parsed, nil
}

// Validate checks a connector config and returns its class; every problem
// is named by key in an *InvalidConfigError.
func (h *plugins) Validate(ctx context.Context, cfg map[string]string) (*plugin.Class, *config.Connector, error) {
	class, parsed, errs, err := h.check(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if len(errs) > 0 {
		return nil, nil, &InvalidConfigError{Errors: errs}
	}
	return class, parsed, nil
}

// CheckConfig returns every problem with a connector config, by key; an
// error means the check itself could not run.
func (h *plugins) CheckConfig(ctx context.Context, cfg map[string]string) ([]config.KeyError, error) {
	_, _, errs, err := h.check(ctx, cfg)
	return errs, err
}

// typeOf is a connector's type as the REST API reports it: source, sink,
// or unknown when its plugin is not installed.
func (h *plugins) typeOf(cfg map[string]string) string {
	class, ok := h.catalog.Find(strings.TrimSpace(cfg["connector.class"]))
	switch {
	case !ok:
		return "unknown"
	case class.Spec.Kind == pb.PluginKind_PLUGIN_KIND_SINK:
		return "sink"
	}
	return "source"
}

// Class finds an installed connector class by name or alias.
func (h *plugins) Class(name string) (*plugin.Class, bool) { return h.catalog.Find(name) }

// Plugins lists the installed classes, plus converters unless
// connectorsOnly.
func (h *plugins) Plugins(connectorsOnly bool) []PluginInfo {
	var out []PluginInfo
	for _, c := range h.catalog.Classes() {
		out = append(out, PluginInfo{Class: c.Spec.Class, Type: c.Type(), Version: c.Spec.Version})
	}
	if !connectorsOnly {
		for _, c := range convert.Classes {
			out = append(out, PluginInfo{Class: c, Type: "converter"})
		}
	}
	return out
}
