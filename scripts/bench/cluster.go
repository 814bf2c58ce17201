package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-connect/ferry/host/kafka"
)

// groupTimings are the group settings both kinds of workers get in the
// cluster measurements: the same session timeout and scheduled delay. A
// delay of 0 moves lost work at once: with a delay, a failover takes it or
// not depending on whether the killed worker led the group (a new leader
// knows of no lost work), which would measure chance.
const groupTimings = "session.timeout.ms=6000\nheartbeat.interval.ms=1000\nscheduled.rebalance.max.delay.ms=0\nrebalance.timeout.ms=20000\n"

// member is one distributed worker of a measured cluster.
type member struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

// kind starts distributed workers of one implementation.
type kind struct {
	name string
	// start makes the command that runs a worker in dir with props.
	start func(o options, dir string, props string) (*exec.Cmd, error)
}

var (
	ferryKind = kind{name: "Ferry", start: func(o options, dir, props string) (*exec.Cmd, error) {
		bin, _ := filepath.Abs(filepath.Join(o.binDir, "ferry"))
		plugins, _ := filepath.Abs(filepath.Join(o.binDir, "plugins"))
		props += fmt.Sprintf("plugin.path=%s\nferry.admin.listener=\nferry.data.dir=%s\nferry.allowed.paths=%s\n", plugins, filepath.Join(dir, "data"), o.work)
		worker := filepath.Join(dir, "worker.properties")
		if err := os.WriteFile(worker, []byte(props), 0o644); err != nil {
			return nil, err
		}
		return exec.Command(bin, "distributed", worker), nil
	}}
	connectKind = kind{name: "Kafka Connect", start: func(o options, dir, props string) (*exec.Cmd, error) {
		worker := filepath.Join(dir, "worker.properties")
		if err := os.WriteFile(worker, []byte(props), 0o644); err != nil {
			return nil, err
		}
		return javaConnect(o, dir, worker, "org.apache.kafka.connect.cli.ConnectDistributed")
	}}
)

// startMember starts worker i of a group in dir and waits until its REST
// API answers.
func startMember(o options, k kind, dir, group string, i int) (*member, error) {
	dir = filepath.Join(dir, fmt.Sprintf("w%d", i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	props := fmt.Sprintf("bootstrap.servers=%s\n%s%s%soffset.flush.interval.ms=%d\nlisteners=http://%s\n",
		o.bootstrap, groupProps(group), converters[0].props, groupTimings, o.flushMS, addr)
	cmd, err := k.start(o, dir, props)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "worker.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &member{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() { cmd.Wait(); close(m.done) }()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-m.done:
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("%s worker exited at start; log:\n%s", k.name, tail(log))
		default:
		}
		if resp, err := http.Get(m.url + "/connectors"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return m, nil
			}
		}
	}
	m.kill()
	return nil, fmt.Errorf("%s worker's REST API did not answer within 2 minutes", k.name)
}

// kill ends the worker with SIGKILL and waits for it.
func (m *member) kill() {
	m.cmd.Process.Kill()
	<-m.done
}

// stop ends the worker with SIGTERM, then SIGKILL.
func (m *member) stop() {
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		m.kill()
	}
}

// id is the worker id both kinds report: host:port of the listener.
func (m *member) id() string { return strings.TrimPrefix(m.url, "http://") }

// taskPlacement returns each RUNNING task's worker id; ok is false until
// the connector and all its tasks run.
func taskPlacement(m *member, name string) (map[int]string, bool) {
	resp, err := http.Get(m.url + "/connectors/" + name + "/status")
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var st struct {
		Connector struct{ State string }
		Tasks     []struct {
			ID       int
			State    string
			WorkerID string `json:"worker_id"`
		}
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&st) != nil || st.Connector.State != "RUNNING" || len(st.Tasks) == 0 {
		return nil, false
	}
	out := map[int]string{}
	for _, t := range st.Tasks {
		if t.State != "RUNNING" {
			return nil, false
		}
		out[t.ID] = t.WorkerID
	}
	return out, true
}

// createFileSource creates a FileStreamSource (a class both kinds have)
// reading file into topic, through m.
func createFileSource(m *member, name, file, topic string) error {
	body, _ := json.Marshal(map[string]string{
		"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "tasks.max": "1", "file": file, "topic": topic,
	})
	last := ""
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodPut, m.url+"/connectors/"+name+"/config", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 300 {
			return nil
		}
		last = fmt.Sprintf("%s: %s", resp.Status, answer)
	}
	return fmt.Errorf("create %s: not taken within a minute; last answer: %s", name, last)
}

// appendEvery appends a line to file every interval until stop closes.
func appendEvery(file string, interval time.Duration, stop <-chan struct{}) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-t.C:
			fmt.Fprintf(f, "line-%09d\n", i)
		}
	}
}

// failover measures, for one kind, the time from kill -9 of the worker
// running a source task to the task's next record in Kafka, in a group of
// two workers.
func failover(o options, k kind, run int) (time.Duration, error) {
	dir, err := os.MkdirTemp(o.work, "failover")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	group := fmt.Sprintf("%sfailover-%d-%d", o.prefix, run, time.Now().UnixNano()%1e6)
	topic := group + "-data"
	if err := createTopic(o, topic); err != nil {
		return 0, err
	}
	var members []*member
	defer func() {
		for _, m := range members {
			m.stop()
		}
	}()
	for i := range 2 {
		m, err := startMember(o, k, dir, group, i)
		if err != nil {
			return 0, err
		}
		members = append(members, m)
	}
	input := filepath.Join(dir, "input.txt")
	stop := make(chan struct{})
	defer close(stop)
	go appendEvery(input, time.Millisecond, stop)
	if err := createFileSource(members[0], "source", input, topic); err != nil {
		return 0, err
	}
	var owner string
	if err := until(time.Minute, func() bool {
		p, ok := taskPlacement(members[0], "source")
		owner = p[0]
		return ok
	}); err != nil {
		return 0, fmt.Errorf("%s: the source never ran: %w", k.name, err)
	}
	consumer, err := kafka.NewConsumer(o.bootstrap, group+"-reader", group+"-reader", map[string]string{"auto.offset.reset": "latest"})
	if err != nil {
		return 0, err
	}
	defer consumer.Close()
	if err := consumer.Subscribe([]string{topic}, nil); err != nil {
		return 0, err
	}
	// Reading: the consumer has joined and sees records.
	if err := until(time.Minute, func() bool { m, _ := consumer.Poll(100 * time.Millisecond); return m != nil }); err != nil {
		return 0, fmt.Errorf("%s: no record from the source: %w", k.name, err)
	}
	victim := 0
	if members[1].id() == owner {
		victim = 1
	}
	killed := time.Now()
	members[victim].kill()
	members = append(members[:victim], members[victim+1:]...)
	for time.Since(killed) < 3*time.Minute {
		m, err := consumer.Poll(100 * time.Millisecond)
		if err == nil && m != nil && m.Timestamp.After(killed) {
			return m.Timestamp.Sub(killed), nil
		}
	}
	return 0, fmt.Errorf("%s: no record within 3 minutes of the kill", k.name)
}

// joinRebalance measures, for one kind, the time from starting a second
// worker next to one running 6 one-task sources until every task is
// RUNNING again with the second worker running some.
func joinRebalance(o options, k kind, run int) (time.Duration, error) {
	dir, err := os.MkdirTemp(o.work, "join")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	group := fmt.Sprintf("%sjoin-%d-%d", o.prefix, run, time.Now().UnixNano()%1e6)
	topic := group + "-data"
	if err := createTopic(o, topic); err != nil {
		return 0, err
	}
	first, err := startMember(o, k, dir, group, 0)
	if err != nil {
		return 0, err
	}
	defer first.stop()
	input := filepath.Join(dir, "input.txt")
	if err := os.WriteFile(input, []byte("a line\n"), 0o644); err != nil {
		return 0, err
	}
	names := []string{"source-0", "source-1", "source-2", "source-3", "source-4", "source-5"}
	for _, name := range names {
		if err := createFileSource(first, name, input, topic); err != nil {
			return 0, err
		}
	}
	if err := until(2*time.Minute, func() bool { _, ok := placement(first, names); return ok }); err != nil {
		return 0, fmt.Errorf("%s: the sources never ran: %w", k.name, err)
	}
	began := time.Now()
	second, err := startMember(o, k, dir, group, 1)
	if err != nil {
		return 0, err
	}
	defer second.stop()
	if err := until(3*time.Minute, func() bool {
		p, ok := placement(first, names)
		return ok && slices.Contains(p, second.id())
	}); err != nil {
		return 0, fmt.Errorf("%s: tasks never settled on two workers: %w", k.name, err)
	}
	return time.Since(began), nil
}

// placement returns the worker ids of the connectors' tasks; ok is false
// until every one runs.
func placement(m *member, names []string) ([]string, bool) {
	var out []string
	for _, name := range names {
		p, ok := taskPlacement(m, name)
		if !ok {
			return nil, false
		}
		for _, w := range p {
			out = append(out, w)
		}
	}
	return out, true
}

// until polls cond every 50 ms for at most d.
func until(d time.Duration, cond func() bool) error {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return nil
		}
	}
	return fmt.Errorf("not within %s", d)
}
