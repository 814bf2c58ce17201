package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// What Ferry writes is read back by a client Ferry did not write (kcat,
// librdkafka from C) and checked byte for byte: keys, values in the
// JsonConverter envelope, and headers.
func TestKcatReadsWhatFerryWrote(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat is not installed (apt-get install kcat; .ci/run installs it)")
	}
	dir := t.TempDir()
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil))
	topic := uniqueTopic(t)
	cfg := map[string]string{"connector.class": "dev.ferry.test.FixedSource", "count": "2", "topic": topic}
	if code := w.call("POST", "/connectors", map[string]any{"name": "fixed-" + topic, "config": cfg}, nil); code != 201 {
		t.Fatalf("create = %d", code)
	}
	var out []byte
	waitFor(t, 30*time.Second, "kcat to read 2 records", func() bool {
		cmd := exec.Command("kcat", "-b", w.bootstrap(), "-C", "-t", topic, "-o", "beginning", "-c", "2", "-e", "-q",
			"-f", "key=%k\nvalue=%s\nheaders=%h\n--\n")
		var err error
		out, err = cmd.Output()
		return err == nil && strings.Count(string(out), "--\n") == 2
	})
	key := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"dev.ferry.Key"},"payload":{"id":%d}}`
	value := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"},{"type":"double","optional":false,"field":"score"},{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"}],"optional":false,"name":"dev.ferry.Value","version":1},"payload":{"id":%d,"name":"n%d","score":%s,"tags":["a","b"]}}`
	var want strings.Builder
	for i, score := range []string{"0.5", "1.5"} {
		want.WriteString("key=" + strings.ReplaceAll(key, "%d", itoa(i)) + "\n")
		want.WriteString("value=" + strings.NewReplacer("%d", itoa(i), "%s", score).Replace(value) + "\n")
		want.WriteString("headers=h-str=hello,h-int=" + itoa(i) + "\n--\n")
	}
	if string(out) != want.String() {
		t.Errorf("kcat read:\n%s\nwant:\n%s", out, want.String())
	}
}

func itoa(i int) string { return string(rune('0' + i)) }
