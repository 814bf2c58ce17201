// Command testplugin is a plugin for the end-to-end tests: a source whose
// number of tasks follows a file, to exercise task reconfiguration, and a
// source of structured records with keys and headers.
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
		}, {
			Class: "dev.ferry.test.FixedSource",
			Config: []sdk.ConfigDef{
				{Name: "count", Type: sdk.TypeInt, Required: true},
				{Name: "topic", Type: sdk.TypeString, Required: true},
			},
			Open: openFixed,
		}},
	})
}

var (
	keySchema   = &sdk.Schema{Type: sdk.Struct, Name: "dev.ferry.Key", Fields: []sdk.Field{{Name: "id", Schema: sdk.Int32Schema}}}
	valueSchema = &sdk.Schema{Type: sdk.Struct, Name: "dev.ferry.Value", Version: 1, Fields: []sdk.Field{
		{Name: "id", Schema: sdk.Int32Schema},
		{Name: "name", Schema: sdk.OptionalStringSchema},
		{Name: "score", Schema: sdk.Float64Schema},
		{Name: "tags", Schema: &sdk.Schema{Type: sdk.Array, Value: sdk.StringSchema}},
	}}
)

// fixed emits count records with struct keys and values and two headers,
// once (it resumes after the last one stored), then idles.
type fixed struct {
	topic      string
	next, last int
}

func openFixed(_ context.Context, cfg sdk.Config, offsets sdk.Offsets) (sdk.SourceTask, error) {
	f := &fixed{topic: cfg.String("topic"), last: cfg.Int("count")}
	if off := offsets.Get(map[string]any{"fixed": f.topic}); off != nil {
		f.next = int(off["next"].(float64))
	}
	return f, nil
}

func (f *fixed) Poll(ctx context.Context) ([]sdk.SourceRecord, error) {
	if f.next >= f.last {
		return idle{}.Poll(ctx)
	}
	var out []sdk.SourceRecord
	for ; f.next < f.last; f.next++ {
		i := int32(f.next)
		out = append(out, sdk.SourceRecord{
			Partition: map[string]any{"fixed": f.topic},
			Offset:    map[string]any{"next": f.next + 1},
			Topic:     f.topic,
			KeySchema: keySchema, Key: sdk.NewStruct(keySchema).Set("id", i),
			ValueSchema: valueSchema,
			Value:       sdk.NewStruct(valueSchema).Set("id", i).Set("name", fmt.Sprintf("n%d", i)).Set("score", float64(i)+0.5).Set("tags", []any{"a", "b"}),
			Headers: []sdk.Header{
				{Key: "h-str", Schema: sdk.StringSchema, Value: "hello"},
				{Key: "h-int", Schema: sdk.Int32Schema, Value: i},
			},
		})
	}
	return out, nil
}

func (f *fixed) Close() error { return nil }

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
		// A task's config is validated against the class's definitions,
		// so it carries the required keys too.
		out[i] = sdk.Config{"split": fmt.Sprint(i), "topic": cfg.String("topic"), "splits.file": cfg.String("splits.file")}
	}
	return out, nil
}

type idle struct{}

func (idle) Poll(ctx context.Context) ([]sdk.SourceRecord, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (idle) Close() error { return nil }
