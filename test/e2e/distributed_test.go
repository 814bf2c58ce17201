package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/store"
)

// cluster is a group of `ferry distributed` workers on one broker: Apache
// Kafka when FERRY_TEST_BOOTSTRAP is set, else a `ferry broker` of its own.
type cluster struct {
	t         *testing.T
	dir       string
	bootstrap string
	props     map[string]string
	workers   []*workerProc // by index; nil when stopped
}

var standaloneBrokerLine = regexp.MustCompile(`embedded Kafka broker running: bootstrap.servers=(\S+)`)

// clusterTimings are short group timings, so that a crash is noticed in
// seconds: session.timeout.ms is the broker's minimum (6 s).
var clusterTimings = map[string]string{
	"session.timeout.ms":               "6000",
	"heartbeat.interval.ms":            "1000",
	"scheduled.rebalance.max.delay.ms": "4000",
	"worker.sync.timeout.ms":           "3000",
	// The embedded broker waits this long in a rebalance for a member
	// that was killed, where Apache Kafka stops at its session timeout.
	"rebalance.timeout.ms": "10000",
	// A sink consumer group's rebalance waits this long for a member
	// that does not rejoin (the embedded broker keeps a killed worker's
	// consumer until then, not only until its session times out).
	"consumer.max.poll.interval.ms": "10000",
}

// startCluster starts n workers sharing a new group and new internal
// topics, with extra worker settings.
func startCluster(t *testing.T, n int, extra map[string]string) *cluster {
	t.Helper()
	// Short: plugin sockets live under each worker's data directory.
	dir, err := os.MkdirTemp("", "fc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &cluster{t: t, dir: dir, bootstrap: os.Getenv("FERRY_TEST_BOOTSTRAP")}
	if c.bootstrap == "" {
		c.bootstrap = startBroker(t, filepath.Join(dir, "broker"))
	}
	c.props = groupProps(c.bootstrap, uniqueTopic(t))
	c.props["offset.storage.file.filename"] = ""
	for k, v := range clusterTimings {
		c.props[k] = v
	}
	for k, v := range extra {
		c.props[k] = v
	}
	for range n {
		c.add()
	}
	return c
}

// groupProps are a distributed group's settings, Kafka Connect's and
// Ferry's alike: its group id and internal topics, named after id, small
// and unreplicated.
func groupProps(bootstrap, id string) map[string]string {
	return map[string]string{
		"bootstrap.servers":                 bootstrap,
		"group.id":                          "group-" + id,
		"config.storage.topic":              "configs-" + id,
		"offset.storage.topic":              "offsets-" + id,
		"status.storage.topic":              "status-" + id,
		"config.storage.replication.factor": "1",
		"offset.storage.replication.factor": "1",
		"status.storage.replication.factor": "1",
		"offset.storage.partitions":         "5",
		"status.storage.partitions":         "3",
	}
}

// startBroker runs `ferry broker` in dir and returns its address.
func startBroker(t *testing.T, dir string) string {
	t.Helper()
	logf := dir + ".log"
	f, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "ferry"), "broker", "--data-dir", dir, "--port", "0")
	cmd.Env = testEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	var addr string
	waitFor(t, 10*time.Second, "ferry broker", func() bool {
		b, _ := os.ReadFile(logf)
		if m := standaloneBrokerLine.FindSubmatch(b); m != nil {
			addr = string(m[1])
			return true
		}
		return false
	})
	return addr
}

// add starts one more worker and returns its index.
func (c *cluster) add() int {
	c.workers = append(c.workers, nil)
	i := len(c.workers) - 1
	c.start(i)
	return i
}

// start (re)starts worker i in its own directory.
func (c *cluster) start(i int) {
	c.t.Helper()
	dir := filepath.Join(c.dir, fmt.Sprintf("w%d", i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	props := map[string]string{"ferry.data.dir": filepath.Join(dir, "d"), "ferry.allowed.paths": c.dir}
	for k, v := range c.props {
		props[k] = v
	}
	cfg := writeWorkerConfig(c.t, dir, props)
	c.workers[i] = startWorkerMode(c.t, dir, nil, "distributed", cfg)
}

// any returns a running worker other than skip (-1 for none).
func (c *cluster) any(skip int) *workerProc {
	for i, w := range c.workers {
		if w != nil && i != skip {
			return w
		}
	}
	c.t.Fatal("no worker is running")
	return nil
}

// id is worker i's worker id (host:port of its REST API).
func (c *cluster) id(i int) string { return strings.TrimPrefix(c.workers[i].url, "http://") }

// placement returns where each task of the connectors runs (worker id by
// "connector/task"), or nil unless every one of them and its tasks is
// RUNNING on a live worker.
func (c *cluster) placement(names ...string) map[string]string {
	live := map[string]bool{}
	for i, w := range c.workers {
		if w != nil {
			live[c.id(i)] = true
		}
	}
	out := map[string]string{}
	for _, name := range names {
		var st status
		if c.any(-1).call("GET", "/connectors/"+name+"/status", nil, &st) != 200 {
			return nil
		}
		if st.Connector.State != "RUNNING" || !live[st.Connector.WorkerID] || len(st.Tasks) == 0 {
			return nil
		}
		for _, task := range st.Tasks {
			if task.State != "RUNNING" || !live[task.WorkerID] {
				return nil
			}
			out[fmt.Sprintf("%s/%d", name, task.ID)] = task.WorkerID
		}
	}
	return out
}

// balanced reports whether no worker runs more than its share of tasks:
// at most ⌈tasks/workers⌉ each.
func balanced(placement map[string]string, workers int) bool {
	per := map[string]int{}
	for _, w := range placement {
		per[w]++
	}
	limit := int(math.Ceil(float64(len(placement)) / float64(workers)))
	for _, n := range per {
		if n > limit {
			return false
		}
	}
	return true
}

// dump, when FERRY_TEST_DUMP names a directory, has each live worker
// print its goroutines to its log (SIGQUIT ends it) and copies the
// cluster's directory (logs, data) there, for a failure to be read after
// the test's cleanup removed it.
func (c *cluster) dump() {
	to := os.Getenv("FERRY_TEST_DUMP")
	if to == "" {
		return
	}
	for _, w := range c.workers {
		if w != nil {
			w.cmd.Process.Signal(syscall.SIGQUIT)
		}
	}
	time.Sleep(time.Second)
	if err := exec.Command("cp", "-r", c.dir, to).Run(); err != nil {
		c.t.Logf("FERRY_TEST_DUMP: copy %s to %s: %v", c.dir, to, err)
	}
}

// liveCount is the number of running workers.
func (c *cluster) liveCount() int {
	n := 0
	for _, w := range c.workers {
		if w != nil {
			n++
		}
	}
	return n
}

// settled waits until the connectors have ntasks RUNNING tasks in all,
// spread evenly over the live workers, and returns where they run.
func (c *cluster) settled(ntasks int, timeout time.Duration, names ...string) map[string]string {
	c.t.Helper()
	var p map[string]string
	defer func() {
		if c.t.Failed() {
			for _, name := range names {
				var st json.RawMessage
				c.any(-1).call("GET", "/connectors/"+name+"/status", nil, &st)
				c.t.Logf("status of %s: %s", name, st)
			}
			c.dump()
		}
	}()
	waitFor(c.t, timeout, strings.Join(names, ",")+" settled over the workers", func() bool {
		p = c.placement(names...)
		return len(p) == ntasks && balanced(p, c.liveCount())
	})
	return p
}

var taskStartedLine = regexp.MustCompile(`task started: connector=(\S+) .*task=(\d+)`)

// starts counts how often each task started ("connector/task"), over
// every worker's logs (restarted workers' old logs included).
func (c *cluster) starts() map[string]int {
	out := map[string]int{}
	logs, _ := filepath.Glob(filepath.Join(c.dir, "w*", "worker-*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, m := range taskStartedLine.FindAllSubmatch(b, -1) {
			out[string(m[1])+"/"+string(m[2])]++
		}
	}
	return out
}

// verifiable creates a VerifiableSource with ntasks tasks writing to topic,
// and a VerifiableSink reading it; both write what they did to files in
// the cluster's directory.
func (c *cluster) verifiable(topic string, ntasks int) (sent, seen string) {
	c.t.Helper()
	sent, seen = filepath.Join(c.dir, "sent.jsonl"), filepath.Join(c.dir, "seen.jsonl")
	// Through a follower or the leader alike: writes are forwarded.
	w := c.workers[len(c.workers)-1]
	if code := w.call("POST", "/connectors", map[string]any{"name": "vsource", "config": map[string]string{
		"connector.class": "VerifiableSource", "tasks.max": strconv.Itoa(ntasks), "topic": topic, "throughput": "200",
		"ferry.verifiable.output.file": sent,
	}}, nil); code != 201 {
		c.t.Fatalf("create vsource: %d", code)
	}
	if code := w.call("POST", "/connectors", map[string]any{"name": "vsink", "config": map[string]string{
		"connector.class": "VerifiableSink", "tasks.max": "2", "topics": topic,
		"ferry.verifiable.output.file": seen,
	}}, nil); code != 201 {
		c.t.Fatalf("create vsink: %d", code)
	}
	return sent, seen
}

// seqnos reads a Verifiable output file: each source task's seqnos, as
// the lines without "committed" or "flushed" name them.
func seqnos(t *testing.T, path string) map[int][]int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]int64{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var l struct {
			Task      int   `json:"task"`
			Seqno     int64 `json:"seqno"`
			Committed bool  `json:"committed"`
			Flushed   bool  `json:"flushed"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		if !l.Committed && !l.Flushed {
			out[l.Task] = append(out[l.Task], l.Seqno)
		}
	}
	return out
}

// gaps counts, per task, the seqnos below the highest seen that never
// arrived, and the duplicates.
func gaps(seen map[int][]int64) (missing, dups map[int]int) {
	missing, dups = map[int]int{}, map[int]int{}
	for task, s := range seen {
		got := map[int64]bool{}
		var top int64
		for _, n := range s {
			if got[n] {
				dups[task]++
			}
			got[n] = true
			top = max(top, n)
		}
		for n := int64(0); n <= top; n++ {
			if !got[n] {
				missing[task]++
			}
		}
	}
	return missing, dups
}

// TestDistributedSpreadJoinLeave runs a 6-task connector on 3 workers,
// then adds a fourth and removes it: the tasks stay evenly spread, and a
// task that stays on its worker is never restarted.
func TestDistributedSpreadJoinLeave(t *testing.T) {
	c := startCluster(t, 3, nil)
	c.verifiable(uniqueTopic(t), 6)
	// 6 source tasks and 2 sink tasks.
	before := c.settled(8, 60*time.Second, "vsource", "vsink")
	startsBefore := c.starts()

	// Every worker answers the same status, with the real worker ids.
	for i := range c.workers {
		st := c.workers[i].status("vsource")
		for _, task := range st.Tasks {
			if key := fmt.Sprintf("vsource/%d", task.ID); task.WorkerID != before[key] {
				t.Errorf("worker %d says %s runs on %s, worker 0 says %s", i, key, task.WorkerID, before[key])
			}
		}
	}

	checkStayed := func(what string, before, after map[string]string, startsBefore map[string]int) {
		t.Helper()
		startsAfter := c.starts()
		for task, w := range after {
			if before[task] == w && startsAfter[task] != startsBefore[task] {
				t.Errorf("%s: task %s stayed on %s but was restarted (%d starts, was %d)", what, task, w, startsAfter[task], startsBefore[task])
			}
		}
	}

	joined := c.add()
	var after map[string]string
	waitFor(t, 60*time.Second, "the new worker to get tasks", func() bool {
		after = c.settled(8, 60*time.Second, "vsource", "vsink")
		return tasksOn(after, c.id(joined)) > 0
	})
	checkStayed("worker joined", before, after, startsBefore)

	before, startsBefore = after, c.starts()
	c.workers[joined].stop()
	c.workers[joined] = nil
	after = c.settled(8, 60*time.Second, "vsource", "vsink")
	checkStayed("worker left", before, after, startsBefore)
}

// TestDistributedKillAndReturn kills workers with kill -9: their tasks run
// elsewhere within session.timeout.ms + scheduled.rebalance.max.delay.ms
// (plus a margin), a worker back within the delay gets its share back,
// and no record goes missing in Kafka.
func TestDistributedKillAndReturn(t *testing.T) {
	c := startCluster(t, 3, nil)
	_, seen := c.verifiable(uniqueTopic(t), 6)
	placement := c.settled(8, 60*time.Second, "vsource", "vsink")

	// The worker with the most tasks dies, for good.
	victim := 0
	for i := range c.workers {
		if tasksOn(placement, c.id(i)) > tasksOn(placement, c.id(victim)) {
			victim = i
		}
	}
	killed := time.Now()
	c.workers[victim].kill()
	c.workers[victim] = nil
	c.settled(8, 40*time.Second, "vsource", "vsink")
	took := time.Since(killed)
	t.Logf("tasks of a killed worker ran elsewhere after %s (session 6 s + delay 4 s)", took.Round(100*time.Millisecond))

	// Another dies and comes back at once: within the delay, so it gets
	// a share of the work again.
	other := c.any(-1)
	back := 0
	for i, w := range c.workers {
		if w == other {
			back = i
		}
	}
	c.workers[back].kill()
	c.start(back)
	waitFor(t, 60*time.Second, "the returned worker to get tasks", func() bool {
		return tasksOn(c.settled(8, 60*time.Second, "vsource", "vsink"), c.id(back)) > 0
	})

	// Every seqno below the highest each task's records reached arrived.
	waitFor(t, 60*time.Second, "the sink to see every source task", func() bool {
		return len(seqnos(t, seen)) == 6
	})
	time.Sleep(3 * time.Second) // let the sink catch up with the sources
	missing, dups := gaps(seqnos(t, seen))
	for task, n := range missing {
		if n > 0 {
			t.Errorf("task %d: %d records missing", task, n)
		}
	}
	t.Logf("duplicates per source task after 2 kills: %v", dups)
}

func tasksOn(placement map[string]string, worker string) int {
	n := 0
	for _, w := range placement {
		if w == worker {
			n++
		}
	}
	return n
}

// TestDistributedStateSurvivesRestart stops the whole cluster and starts
// it again: paused, stopped and deleted connectors stay so, and
// reconfigured task counts are kept.
func TestDistributedStateSurvivesRestart(t *testing.T) {
	c := startCluster(t, 2, nil)
	topic := uniqueTopic(t)
	w := c.workers[1]
	for _, name := range []string{"running", "paused", "stopped", "deleted"} {
		if code := w.call("POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
			"connector.class": "VerifiableSource", "tasks.max": "2", "topic": topic, "throughput": "10",
		}}, nil); code != 201 {
			t.Fatalf("create %s: %d", name, code)
		}
	}
	c.settled(8, 60*time.Second, "running", "paused", "stopped", "deleted")
	for _, req := range [][2]string{{"PUT", "/connectors/paused/pause"}, {"PUT", "/connectors/stopped/stop"}, {"DELETE", "/connectors/deleted"}} {
		if code := c.workers[0].call(req[0], req[1], nil, nil); code >= 300 {
			t.Fatalf("%s %s: %d", req[0], req[1], code)
		}
	}
	// Reconfigured: 3 tasks.
	if code := c.workers[0].call("PUT", "/connectors/running/config", map[string]string{
		"connector.class": "VerifiableSource", "tasks.max": "3", "topic": topic, "throughput": "10",
	}, nil); code != 200 {
		t.Fatalf("reconfigure: %d", code)
	}
	waitFor(t, 60*time.Second, "running's 3 tasks RUNNING", func() bool { return len(c.placement("running")) == 3 })

	for i, w := range c.workers {
		w.stop()
		c.workers[i] = nil
	}
	for i := range c.workers {
		c.start(i)
	}
	waitFor(t, 60*time.Second, "running's 3 tasks RUNNING", func() bool { return len(c.placement("running")) == 3 })
	waitFor(t, 30*time.Second, "paused and stopped states after the restart", func() bool {
		p, s := c.workers[0].status("paused"), c.workers[0].status("stopped")
		return p.Connector.State == "PAUSED" && len(p.Tasks) == 2 && p.Tasks[0].State == "PAUSED" &&
			s.Connector.State == "STOPPED" && len(s.Tasks) == 0
	})
	var names []string
	c.workers[1].call("GET", "/connectors", nil, &names)
	if strings.Join(names, ",") != "paused,running,stopped" {
		t.Errorf("connectors after the restart: %v", names)
	}
}

// TestDistributedFilePipelineKills runs a file source and a file sink on
// three workers while ten kill -9s, at random moments, hit random workers
// (each comes back at once): no line is lost; the duplicates (lines
// replayed after a kill, which at-least-once delivery allows) are counted.
func TestDistributedFilePipelineKills(t *testing.T) {
	if os.Getenv("FERRY_TEST_BOOTSTRAP") == "" {
		// kfake keeps a killed member in its group for the whole
		// rebalance timeout, and ten kills in a row have stalled the
		// sink's consumer group past the test's limit (see testing.md).
		t.Skip("the kill test runs on Apache Kafka (make test-kafka)")
	}
	c := startCluster(t, 3, map[string]string{"scheduled.rebalance.max.delay.ms": "0"})
	p := pipeline(t, c.dir)
	for _, cfg := range []map[string]string{
		{"name": p.Src, "connector.class": "FileStreamSource", "tasks.max": "1", "file": p.In, "topic": "data-" + p.Src},
		{"name": p.Sink, "connector.class": "FileStreamSink", "tasks.max": "1", "file": p.Out, "topics": "data-" + p.Src},
	} {
		if code := c.workers[0].call("PUT", "/connectors/"+cfg["name"]+"/config", cfg, nil); code != 201 {
			t.Fatalf("create %s: %d", cfg["name"], code)
		}
	}
	const n = 30_000
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendLines(t, p.In, 0, n, 500, 700*time.Millisecond)
	}()
	seed := time.Now().UnixNano()
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill schedule seed %d", seed)
	waitFor(t, time.Minute, "first lines in the sink", func() bool { return len(readLines(t, p.Out)) > 1000 })
	for range 10 {
		time.Sleep(time.Duration(1500+rnd.IntN(3000)) * time.Millisecond)
		i := rnd.IntN(len(c.workers))
		c.workers[i].kill()
		c.start(i)
	}
	<-done
	defer func() {
		if t.Failed() {
			c.dump()
		}
	}()
	checkArrived(t, p.Out, n, 2*time.Minute)
	lines := readLines(t, p.Out)
	t.Logf("%d lines through 10 kill -9s of workers: none lost, %d duplicates (%.2f%%)", n, len(lines)-n, 100*float64(len(lines)-n)/n)
}

// TestDistributedConfigTopicMismatch starts a worker that joins a group
// with another config.storage.topic than its members: it says so and
// stays out, and the group's connector runs on.
func TestDistributedConfigTopicMismatch(t *testing.T) {
	c := startCluster(t, 1, map[string]string{"worker.unsync.backoff.ms": "600000"})
	if code := c.workers[0].call("POST", "/connectors", map[string]any{"name": "vsource", "config": map[string]string{
		"connector.class": "VerifiableSource", "tasks.max": "2", "topic": uniqueTopic(t), "throughput": "10",
	}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	c.settled(2, 60*time.Second, "vsource")

	c.props["config.storage.topic"] += "-other"
	odd := c.add()
	waitFor(t, 60*time.Second, "the odd worker to name the problem", func() bool {
		b, _ := os.ReadFile(c.workers[odd].logf)
		return bytes.Contains(b, []byte("different config.storage.topic"))
	})
	c.workers[odd].stop()
	c.workers[odd] = nil
	c.settled(2, 60*time.Second, "vsource")
}

// TestDistributedConnectorOffsetsTopic runs a source with an
// offsets.storage.topic of its own: its offsets land there.
func TestDistributedConnectorOffsetsTopic(t *testing.T) {
	c := startCluster(t, 1, nil)
	own := "own-offsets-" + uniqueTopic(t)
	if code := c.workers[0].call("POST", "/connectors", map[string]any{"name": "vsource", "config": map[string]string{
		"connector.class": "VerifiableSource", "tasks.max": "2", "topic": uniqueTopic(t), "throughput": "50",
		"offsets.storage.topic": own,
	}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	c.settled(2, 60*time.Second, "vsource")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := store.OpenKafkaOffsets(ctx, store.KafkaOptions{Bootstrap: c.bootstrap, ClientID: "e2e"}, kafka.TopicSpec{Name: own, Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer offs.Close()
	waitFor(t, 30*time.Second, "both tasks' offsets in the connector's own topic", func() bool {
		offs.ReadToEnd(ctx)
		return len(offs.Get("vsource")) == 2
	})
}
