package main

import (
	"fmt"
	"strconv"
	"strings"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

// Keys of a task's configuration, as Kafka's tasks name them. name and
// id are not declared: the worker sets name, and taskConfigs sets id.
const (
	nameKey       = "name"
	idKey         = "id"
	topicKey      = "topic"
	throughputKey = "throughput"
	completeKey   = "complete.record.data"
	// outputKey is Ferry's own: Kafka's tasks print to stdout, which is
	// not a plugin's (stdout carries the plugin protocol).
	outputKey = "ferry.verifiable.output.file"
)

// outputDef declares outputKey for both connectors.
var outputDef = sdk.ConfigDef{
	Name: outputKey,
	Type: sdk.TypeString,
	Doc: "File each task appends a JSON line to for every record it produces or sees, as Kafka's " +
		"Verifiable tasks print to stdout; must lie inside the worker's ferry.allowed.paths. Unset or empty: no output",
	Validate: allowedOutput,
}

// allowedOutput checks the output file against the worker's
// ferry.allowed.paths: whoever can create a connector could otherwise have
// the worker append to any file it can write.
func allowedOutput(v string) error {
	if v == "" {
		return nil
	}
	_, err := sdk.AllowedPath(v)
	return err
}

// taskConfigs gives each of max tasks the connector's configuration plus
// its id, 0 to max-1, as Kafka's Verifiable connectors do.
func taskConfigs(cfg sdk.Config, max int) ([]sdk.Config, error) {
	configs := make([]sdk.Config, 0, max)
	for i := range max {
		tc := make(sdk.Config, len(cfg)+1)
		for k, v := range cfg {
			tc[k] = v
		}
		tc[idKey] = strconv.Itoa(i)
		configs = append(configs, tc)
	}
	return configs, nil
}

// taskID parses the id taskConfigs set.
func taskID(cfg sdk.Config) (int32, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(cfg[idKey]), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("task config has no valid %s %q: %w", idKey, cfg[idKey], err)
	}
	return int32(id), nil
}

// nameJSON is the connector's name as a JSON value: null when the task
// config has none, as Kafka's tasks print it.
func nameJSON(cfg sdk.Config) []byte {
	name, ok := cfg[nameKey]
	if !ok {
		return []byte("null")
	}
	return appendString(nil, name)
}
