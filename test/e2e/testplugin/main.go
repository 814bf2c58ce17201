// Command testplugin is a plugin for the end-to-end tests: a source whose
// number of tasks follows a file, to exercise task reconfiguration, and a
// sink that records partition assignments.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

func main() {
	sdk.Serve(sdk.Plugin{
		Name:    "testplugin",
		Version: "1.0.0",
		Sources: []sdk.SourceConnector{{
			Class: "dev.ferry.test.SplitSource",
			Config: []sdk.ConfigDef{
				{Name: "splits.file", Type: sdk.TypeString, Required: true, Doc: "file holding the number of tasks"},
				{Name: "topic", Type: sdk.TypeString, Required: true},
			},
			Start:       watchSplits,
			TaskConfigs: splitTasks,
			Open: func(ctx context.Context, cfg sdk.Config, _ sdk.Offsets) (sdk.SourceTask, error) {
				return idle{}, nil
			},
		}},
	})
}

func splits(cfg sdk.Config) int {
	b, _ := os.ReadFile(cfg.String("splits.file"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return max(n, 1)
}

// watchSplits asks for new task configs whenever the file's count changes.
func watchSplits(ctx context.Context, cfg sdk.Config, cc *sdk.ConnectorContext) error {
	last := splits(cfg)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			if n := splits(cfg); n != last {
				last = n
				sdk.Logger(ctx).Info("splits changed", "tasks", n)
				cc.RequestTaskReconfiguration()
			}
		}
	}()
	return nil
}

func splitTasks(cfg sdk.Config, maxTasks int) ([]sdk.Config, error) {
	n := min(splits(cfg), maxTasks)
	out := make([]sdk.Config, n)
	for i := range out {
		out[i] = sdk.Config{"split": fmt.Sprint(i), "topic": cfg.String("topic")}
	}
	return out, nil
}

type idle struct{}

func (idle) Poll(ctx context.Context) ([]sdk.SourceRecord, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (idle) Close() error { return nil }
