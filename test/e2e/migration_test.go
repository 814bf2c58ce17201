package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestMigrateFromKafkaConnect runs a FileStreamSource and a FileStreamSink
// on Apache Kafka Connect 4.1 in distributed mode, stops it, and starts a
// Ferry worker on its group.id and internal topics: Ferry runs both
// connectors from Kafka Connect's stored configs, the source resumes at
// the position Kafka Connect stored in the offsets topic, and the sink at
// the offsets Kafka Connect committed for group connect-<name>, so every
// line reaches out.txt exactly once, in order. A second Ferry worker then
// joins and takes a share.
//
// It also pins a bug: Ferry's file source reports task configs with the
// defaulted batch.size=2000 added, where Kafka Connect's
// FileStreamSourceConnector.taskConfigs returns the connector's props
// as given. So on taking over, Ferry finds the stored task config
// "changed", writes new task-<name>-0 and commit-<name> records to the
// config topic, and starts the source task a second time ~100 ms after
// its first start.
//
// It needs Apache Kafka (FERRY_TEST_BOOTSTRAP), the jars of Kafka
// Connect 4.1.1 (FERRY_TEST_CONNECT_LIB, printed by
// `scripts/kafka connect-lib`), and Java.
func TestMigrateFromKafkaConnect(t *testing.T) {
	bootstrap, lib := os.Getenv("FERRY_TEST_BOOTSTRAP"), os.Getenv("FERRY_TEST_CONNECT_LIB")
	if bootstrap == "" || lib == "" {
		t.Skip("needs Apache Kafka (FERRY_TEST_BOOTSTRAP) and Kafka Connect's jars (FERRY_TEST_CONNECT_LIB=$(scripts/kafka connect-lib))")
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatal("java is not installed (scripts/kafka connect-lib installs it)")
	}
	t.Parallel()
	const n = 5000 // lines per phase; each line is 13 bytes
	begin := time.Now()

	// Short: Ferry's plugin sockets live under each worker's data directory.
	dir, err := os.MkdirTemp("", "fm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	id := uniqueTopic(t)
	shared := groupProps(bootstrap, id)
	maps.Copy(shared, map[string]string{
		"key.converter":            "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":          "org.apache.kafka.connect.json.JsonConverter",
		"offset.flush.interval.ms": "500",
	})
	in, out, topic := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt"), "data-"+id
	src, sink := "src-"+id, "sink-"+id
	configs := map[string]map[string]string{
		src: {
			"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
			"tasks.max":       "1", "file": in, "topic": topic,
			// The broker does not create topics on demand; Kafka Connect
			// creates the source's topic by these rules (KIP-158).
			"topic.creation.default.replication.factor": "1",
			"topic.creation.default.partitions":         "1",
		},
		sink: {
			"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
			"tasks.max":       "1", "file": out, "topics": topic,
		},
	}
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// Kafka Connect runs the two connectors over lines [0, n).
	kc := startKafkaConnect(t, filepath.Join(dir, "kc"), lib, shared)
	for name, cfg := range configs {
		waitFor(t, 60*time.Second, "Kafka Connect to create "+name, func() bool {
			switch kc.callNoFail("POST", "/connectors", map[string]any{"name": name, "config": cfg}) {
			case 201:
				return true
			case 409: // a rebalance, or created by an earlier try that timed out
				resp, err := http.Get(kc.url + "/connectors/" + name)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == 200
			}
			return false
		})
	}
	for name := range configs {
		waitFor(t, 60*time.Second, name+" RUNNING on Kafka Connect", func() bool { return kc.running(name) })
	}
	kcStarted := time.Since(begin)
	appendLines(t, in, 0, n, 500, 20*time.Millisecond)
	waitFor(t, 60*time.Second, fmt.Sprintf("Kafka Connect to copy %d lines", n), func() bool { return len(readLines(t, out)) >= n })
	// Both committed everything: the source's position is the end of
	// in.txt in the offsets topic, the sink's group is at offset n.
	waitFor(t, 30*time.Second, "Kafka Connect to commit the source's and the sink's offsets", func() bool {
		return connectOffset(kc, src, "position") == 13*n && connectOffset(kc, sink, "kafka_offset") == n
	})
	// What Kafka Connect stored, as its REST API shows it.
	kcConfigs, kcTasks := map[string]map[string]string{}, map[string]map[int]map[string]string{}
	for name := range configs {
		var cfg map[string]string
		kc.call("GET", "/connectors/"+name+"/config", nil, &cfg)
		kcConfigs[name] = cfg
		kcTasks[name] = taskConfigs(kc, name)
	}
	kc.stop()
	kcStopped := time.Since(begin)

	// Lines [n, 2n) are written while no worker runs.
	appendLines(t, in, n, 2*n, 500, 0)

	// One Ferry worker first, so that each task's starts can be counted.
	c := &cluster{t: t, dir: dir, bootstrap: bootstrap, props: map[string]string{"offset.storage.file.filename": ""}}
	maps.Copy(c.props, shared)
	maps.Copy(c.props, clusterTimings)
	c.add()
	placement := c.settled(2, 60*time.Second, src, sink)
	ferryRunning := time.Since(begin)
	// Exactly [0, 2n), each once, in order: the source resumed at byte
	// 13n, the sink after Kafka offset n-1.
	waitExactly(t, out, 2*n, 60*time.Second)
	ferryCopied := time.Since(begin)

	var names []string
	c.workers[0].call("GET", "/connectors", nil, &names)
	slices.Sort(names)
	if want := []string{sink, src}; !slices.Equal(names, want) {
		t.Errorf("GET /connectors on Ferry = %v, want %v", names, want)
	}
	for name, want := range kcConfigs {
		var got map[string]string
		c.workers[0].call("GET", "/connectors/"+name+"/config", nil, &got)
		if !maps.Equal(got, want) {
			t.Errorf("config of %s on Ferry = %v, Kafka Connect's was %v", name, got, want)
		}
		if st := c.workers[0].status(name); st.Connector.WorkerID != c.id(0) {
			t.Errorf("connector %s runs on %q, not on the Ferry worker %s", name, st.Connector.WorkerID, c.id(0))
		}
		// The connector's task configs are the ones Kafka Connect
		// stored: Ferry need not write new ones and restart the tasks.
		ferryTasks := taskConfigs(c.workers[0], name)
		for id, want := range kcTasks[name] {
			if !maps.Equal(ferryTasks[id], want) {
				t.Errorf("task %s/%d: Ferry's config differs from the one Kafka Connect stored (so Ferry rewrote it and restarted the task):\n  Ferry:         %v\n  Kafka Connect: %v", name, id, ferryTasks[id], want)
			}
		}
		if len(ferryTasks) != len(kcTasks[name]) {
			t.Errorf("%s has %d tasks on Ferry, %d on Kafka Connect", name, len(ferryTasks), len(kcTasks[name]))
		}
	}
	for task, w := range placement {
		if w != c.id(0) {
			t.Errorf("task %s runs on %q, not on the Ferry worker %s", task, w, c.id(0))
		}
	}
	for task, starts := range c.starts() {
		if starts != 1 {
			t.Errorf("task %s started %d times on one Ferry worker, want once", task, starts)
		}
	}
	b, _ := os.ReadFile(c.workers[0].logf)
	if !regexp.MustCompile(fmt.Sprintf(`resuming.*position=%d\b`, 13*n)).Match(b) {
		t.Errorf("the Ferry worker's log does not say the file source resumed at position %d", 13*n)
	}

	// A second Ferry worker joins and takes a task; lines [2n, 3n)
	// still arrive once each.
	c.add()
	c.settled(2, 60*time.Second, src, sink)
	appendLines(t, in, 2*n, 3*n, 500, 0)
	waitExactly(t, out, 3*n, 60*time.Second)
	t.Logf("Kafka Connect running after %s, stopped after %s; Ferry running after %s, copied after %s, done after %s",
		kcStarted.Round(100*time.Millisecond), kcStopped.Round(100*time.Millisecond), ferryRunning.Round(100*time.Millisecond),
		ferryCopied.Round(100*time.Millisecond), time.Since(begin).Round(100*time.Millisecond))
}

// waitExactly waits until path has want lines (or its last line is the
// want-th), then fails unless its lines are exactly [0, want) in order,
// each once.
func waitExactly(t *testing.T, path string, want int, timeout time.Duration) {
	t.Helper()
	var lines []string
	last := fmt.Sprintf("line-%07d", want-1)
	waitFor(t, timeout, fmt.Sprintf("%d lines in %s", want, path), func() bool {
		lines = readLines(t, path)
		return len(lines) >= want || len(lines) > 0 && lines[len(lines)-1] == last
	})
	for i, l := range lines {
		if w := fmt.Sprintf("line-%07d", i); l != w {
			t.Fatalf("line %d of %s is %q, want %q (%d lines in all, want %d)", i, path, l, w, len(lines), want)
		}
	}
	if len(lines) != want {
		t.Fatalf("%s has %d lines, want %d", path, len(lines), want)
	}
}

// taskConfigs returns a connector's task configs by task id, from GET
// /connectors/{name}/tasks.
func taskConfigs(w *workerProc, name string) map[int]map[string]string {
	var tasks []struct {
		ID struct {
			Task int `json:"task"`
		} `json:"id"`
		Config map[string]string `json:"config"`
	}
	w.call("GET", "/connectors/"+name+"/tasks", nil, &tasks)
	out := map[int]map[string]string{}
	for _, task := range tasks {
		out[task.ID.Task] = task.Config
	}
	return out
}

// startKafkaConnect runs Apache Kafka Connect's ConnectDistributed from
// the jars in lib with props plus a REST listener on a free port, in dir,
// and waits until its REST API answers. The test's cleanup stops it.
func startKafkaConnect(t *testing.T, dir, lib string, props map[string]string) *workerProc {
	t.Helper()
	noPlugins := filepath.Join(dir, "no-plugins")
	if err := os.MkdirAll(noPlugins, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	all := map[string]string{
		"listeners": fmt.Sprintf("http://127.0.0.1:%d", port),
		// The connectors are on the classpath; an empty plugin.path
		// skips the scan.
		"plugin.path": noPlugins,
	}
	maps.Copy(all, props)
	cfg := filepath.Join(dir, "connect-distributed.properties")
	writeProps(t, cfg, all)
	logCfg := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(logCfg, []byte(`appender.console.type=Console
appender.console.name=STDOUT
appender.console.layout.type=PatternLayout
appender.console.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
logger.clients.name=org.apache.kafka.clients
logger.clients.level=WARN
logger.common.name=org.apache.kafka.common
logger.common.level=WARN
`), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &workerProc{t: t, dir: dir, url: fmt.Sprintf("http://127.0.0.1:%d", port), logf: filepath.Join(dir, "connect.log")}
	w.launch(exec.Command("java", "-Xms128m", "-Xmx512m", "-Djava.awt.headless=true", "-Dlog4j2.configurationFile="+logCfg,
		"-cp", filepath.Join(lib, "*"), "org.apache.kafka.connect.cli.ConnectDistributed", cfg))
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			b, _ := os.ReadFile(w.logf)
			t.Logf("Kafka Connect log %s:\n%s", w.logf, tail(b, 80))
		}
	})
	waitFor(t, 60*time.Second, "Kafka Connect's REST API", func() bool {
		select {
		case <-w.exited:
			b, _ := os.ReadFile(w.logf)
			t.Fatalf("Kafka Connect exited early (%s):\n%s", w.cmd.ProcessState, tail(b, 80))
		default:
		}
		resp, err := http.Get(w.url + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return w
}

// connectOffset returns the number under key in the single offset Kafka
// Connect's GET /connectors/{name}/offsets reports (KIP-875), or -1.
func connectOffset(w *workerProc, name, key string) int {
	var offs struct {
		Offsets []struct {
			Offset map[string]json.Number `json:"offset"`
		} `json:"offsets"`
	}
	if w.call("GET", "/connectors/"+name+"/offsets", nil, &offs) != 200 || len(offs.Offsets) != 1 {
		return -1
	}
	v, err := strconv.Atoi(offs.Offsets[0].Offset[key].String())
	if err != nil {
		return -1
	}
	return v
}
