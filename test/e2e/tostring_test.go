package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// toStringVector is one entry of plugins/file/testdata/tostring.json: a
// JsonConverter input and the line Kafka Connect's FileStreamSinkTask
// printed for it on a JDK 21 or later (scripts/tostring-vectors/run).
type toStringVector struct {
	Schemas  bool   `json:"schemas"`
	Input    string `json:"input"`
	Expected string `json:"expected"`
}

// tostringMarker is the value a file source writes into each topic first:
// the source creates the topic (the test broker does not auto-create), and
// its line in the sink file says the sink is consuming.
const tostringMarker = "ferry-tostring-start"

// Regression test for issue 12, defect 13 with the real binaries: records
// produced by a client Ferry did not write (kcat) go through the worker's
// JsonConverter (schemas.enable on and off) into FileStreamSink, whose lines
// must be those Kafka Connect wrote for the same bytes.
//
// java.util.Date prints in the JVM's zone, and the vectors were made in
// UTC, so the worker (and its plugins, which inherit TZ) runs with TZ=UTC.
func TestToStringSinkMatchesKafkaConnect(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat is not installed (apt-get install kcat; .ci/run installs it)")
	}
	t.Parallel()
	b, err := os.ReadFile("../../plugins/file/testdata/tostring.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []toStringVector
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	groups := map[bool][]toStringVector{}
	for _, v := range vectors {
		groups[v.Schemas] = append(groups[v.Schemas], v)
	}
	if len(groups[true]) < 50 || len(groups[false]) < 10 {
		t.Fatalf("tostring.json has %d schema'd and %d schemaless vectors", len(groups[true]), len(groups[false]))
	}

	dir := t.TempDir()
	w := startWorkerEnv(t, dir, []string{"TZ=UTC"}, writeWorkerConfig(t, dir, nil))
	type run struct {
		schemas bool
		topic   string
		out     string
	}
	var runs []run
	for _, schemas := range []bool{true, false} {
		topic := uniqueTopic(t)
		r := run{schemas: schemas, topic: topic, out: filepath.Join(dir, topic+".sink.txt")}
		runs = append(runs, r)
		marker := filepath.Join(dir, topic+".marker.txt")
		if err := os.WriteFile(marker, []byte(tostringMarker+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		conv := map[string]string{
			"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
			"value.converter.schemas.enable": strconv.FormatBool(schemas),
		}
		src := map[string]string{"connector.class": "FileStreamSource", "tasks.max": "1", "file": marker, "topic": topic}
		sink := map[string]string{"connector.class": "FileStreamSink", "tasks.max": "1", "file": r.out, "topics": topic}
		for name, cfg := range map[string]map[string]string{"src-" + topic: src, "sink-" + topic: sink} {
			for k, v := range conv {
				cfg[k] = v
			}
			if code := w.call("POST", "/connectors", map[string]any{"name": name, "config": cfg}, nil); code != 201 {
				t.Fatalf("create %s = %d", name, code)
			}
		}
	}

	for _, r := range runs {
		waitFor(t, 60*time.Second, fmt.Sprintf("the marker in %s", r.out), func() bool {
			return slices.Contains(readLines(t, r.out), tostringMarker)
		})
		// All to partition 0, so the sink sees them in this order.
		var in strings.Builder
		for _, v := range groups[r.schemas] {
			in.WriteString(v.Input + "\n")
		}
		cmd := exec.Command("kcat", "-b", w.bootstrap(), "-P", "-t", r.topic, "-p", "0")
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
	}

	for _, r := range runs {
		want := groups[r.schemas]
		var got []string
		waitFor(t, 60*time.Second, fmt.Sprintf("%d lines in %s", len(want), r.out), func() bool {
			got = slices.DeleteFunc(readLines(t, r.out), func(l string) bool { return l == tostringMarker })
			return len(got) >= len(want)
		})
		if len(got) != len(want) {
			t.Errorf("schemas.enable=%t: %s has %d lines, want %d", r.schemas, r.out, len(got), len(want))
		}
		for i, v := range want[:min(len(want), len(got))] {
			if got[i] != v.Expected {
				t.Errorf("schemas.enable=%t: line %d for %s\n got: %s\nwant: %s", r.schemas, i, v.Input, got[i], v.Expected)
			}
		}
	}
}
