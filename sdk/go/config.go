package sdk

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ConfigType is a configuration key's type, as Kafka's ConfigDef.Type.
type ConfigType int

// Configuration key types.
const (
	TypeString ConfigType = iota + 1
	TypeInt
	TypeLong
	TypeBoolean
	TypeDouble
	TypeList
	TypePassword
)

// ConfigDef describes one configuration key of a connector.
type ConfigDef struct {
	Name string
	Type ConfigType
	// Required keys must be set and have no default.
	Required bool
	// Default applies when the key is absent; "" means no default.
	Default string
	Doc     string
	// Validate, if set, checks a present value.
	Validate func(value string) error
}

// ConfigError is one problem with one key.
type ConfigError struct {
	Key     string
	Message string
}

func (e ConfigError) Error() string { return e.Key + ": " + e.Message }

// Config is a connector's or task's configuration: string keys and values,
// as Kafka Connect passes them.
type Config map[string]string

// String returns the value of key, or "".
func (c Config) String(key string) string { return c[key] }

// Int returns the value of key as an int; validated configs never fail here,
// so a bad value reads as 0.
func (c Config) Int(key string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(c[key]))
	return n
}

// Bool returns the value of key as a bool.
func (c Config) Bool(key string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(c[key]))
	return b
}

// List returns the value of key split on commas, trimmed, without empties.
func (c Config) List(key string) []string {
	var out []string
	for _, s := range strings.Split(c[key], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// resolve applies defaults and checks every key against defs, returning the
// resolved config and all problems found, sorted by key.
func resolve(defs []ConfigDef, in map[string]string) (Config, []ConfigError) {
	out := make(Config, len(in)+len(defs))
	for k, v := range in {
		out[k] = v
	}
	var errs []ConfigError
	for _, d := range defs {
		v, ok := in[d.Name]
		if !ok {
			if d.Required {
				errs = append(errs, ConfigError{d.Name, fmt.Sprintf("Missing required configuration %q which has no default value.", d.Name)})
				continue
			}
			if d.Default == "" {
				continue
			}
			v = d.Default
			out[d.Name] = v
		}
		if err := checkType(d.Type, v); err != nil {
			errs = append(errs, ConfigError{d.Name, fmt.Sprintf("Invalid value %s for configuration %s: %v", v, d.Name, err)})
			continue
		}
		if d.Validate != nil {
			if err := d.Validate(v); err != nil {
				errs = append(errs, ConfigError{d.Name, fmt.Sprintf("Invalid value %s for configuration %s: %v", v, d.Name, err)})
			}
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	return out, errs
}

func checkType(t ConfigType, v string) error {
	v = strings.TrimSpace(v)
	var err error
	switch t {
	case TypeInt:
		_, err = strconv.ParseInt(v, 10, 32)
	case TypeLong:
		_, err = strconv.ParseInt(v, 10, 64)
	case TypeDouble:
		_, err = strconv.ParseFloat(v, 64)
	case TypeBoolean:
		if v != "true" && v != "false" {
			err = fmt.Errorf("expected true or false")
		}
	}
	if err != nil {
		return fmt.Errorf("not a valid %s", configTypeName(t))
	}
	return nil
}

func configTypeName(t ConfigType) string {
	switch t {
	case TypeInt:
		return "INT"
	case TypeLong:
		return "LONG"
	case TypeBoolean:
		return "BOOLEAN"
	case TypeDouble:
		return "DOUBLE"
	case TypeList:
		return "LIST"
	case TypePassword:
		return "PASSWORD"
	}
	return "STRING"
}

// AtLeast returns a validator for integers no smaller than min.
func AtLeast(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < min {
			return fmt.Errorf("value must be at least %d", min)
		}
		return nil
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
