package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// A worker with a broken binary in its plugin path still starts, and
// rejects bad connector configs at create time, naming the key.
func TestBadConfigsRejected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	os.MkdirAll(plugins, 0o755)
	if err := os.Symlink(filepath.Join(binDir, "plugins", "file"), filepath.Join(plugins, "file")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(plugins, "not-a-plugin"), []byte("#!/bin/sh\necho hello\n"), 0o755)
	os.WriteFile(filepath.Join(plugins, "crashes"), []byte("#!/bin/sh\nexit 3\n"), 0o755)
	// Regression (issue 12, defect 10): any executable under plugin.path
	// ran, even one every user could have replaced.
	writable := filepath.Join(plugins, "writable")
	os.WriteFile(writable, []byte("#!/bin/sh\ntouch "+filepath.Join(dir, "writable-ran")+"\n"), 0o755)
	os.Chmod(writable, 0o757)
	w := startWorker(t, dir, writeWorkerConfig(t, dir, map[string]string{"plugin.path": plugins}))
	if _, err := os.Stat(filepath.Join(dir, "writable-ran")); err == nil {
		t.Errorf("a world-writable plugin binary was run")
	}
	if log, _ := os.ReadFile(w.logf); !strings.Contains(string(log), "refusing to run "+writable) {
		t.Errorf("log does not name the refused plugin %s", writable)
	}

	var classes []map[string]string
	w.call("GET", "/connector-plugins", nil, &classes)
	if len(classes) != 2 { // the symlinked file plugin only
		t.Fatalf("connector-plugins = %v, want the two file connectors", classes)
	}
	log, _ := os.ReadFile(w.logf)
	for _, bin := range []string{"not-a-plugin", "crashes"} {
		if !strings.Contains(string(log), "skipping plugin") || !strings.Contains(string(log), bin) {
			t.Errorf("log does not report broken plugin %s", bin)
		}
	}

	in := filepath.Join(dir, "in.txt")
	link := filepath.Join(dir, "passwd-link")
	os.Symlink("/etc/passwd", link)
	good := map[string]string{"connector.class": "FileStreamSource", "tasks.max": "1", "file": in, "topic": uniqueTopic(t)}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for gk, gv := range good {
			m[gk] = gv
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		config map[string]string
		key    string
	}{
		{"unknown class", with("connector.class", "com.example.NoSuchConnector"), "connector.class"},
		{"missing file", with("file", ""), "file"},
		{"tasks.max zero", with("tasks.max", "0"), "tasks.max"},
		{"tasks.max not a number", with("tasks.max", "many"), "tasks.max"},
		{"unknown converter", with("value.converter", "com.example.NoSuchConverter"), "value.converter"},
		{"missing topic", with("topic", ""), "topic"},
		{"sink without topics", map[string]string{"connector.class": "FileStreamSink", "file": in}, "topics"},
		// Regression (issue 12, defect 8): wrapped to a negative or zero
		// task count on the way to the plugin.
		{"tasks.max over 2^31-1", with("tasks.max", "4294967297"), "tasks.max"},
		// Regression (issue 12, defect 12): any REST caller could have the
		// worker copy /etc/shadow, or append to any file it can write.
		{"source file outside the allowed paths", with("file", "/etc/passwd"), "file"},
		{"source file through a link", with("file", link), "file"},
		{"sink file outside the allowed paths", map[string]string{"connector.class": "FileStreamSink", "file": "/tmp/ferry-should-not-exist", "topics": "t"}, "file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e errorBody
			code := w.call("POST", "/connectors", map[string]any{"name": "bad", "config": tc.config}, &e)
			if code != 400 || e.ErrorCode != 400 {
				t.Fatalf("POST = %d %+v, want 400", code, e)
			}
			if !strings.Contains(e.Message, tc.key+": ") {
				t.Errorf("error does not name key %q: %s", tc.key, e.Message)
			}
		})
	}
	// Regression (issue 12, defect 8): names that break log lines or
	// cannot be addressed in a URL were accepted.
	for _, name := range []string{"line\nbreak", ".", ".."} {
		var e errorBody
		if code := w.call("POST", "/connectors", map[string]any{"name": name, "config": good}, &e); code != 400 || !strings.Contains(e.Message, "name") {
			t.Errorf("create %q = %d %+v, want 400 naming the name", name, code, e)
		}
	}
	// A write that is not JSON (a form a web page can post cross-site) is
	// refused, as Kafka Connect does.
	resp, err := http.Post(w.url+"/connectors", "text/plain", strings.NewReader(`{"name":"csrf","config":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Errorf("POST with Content-Type text/plain = %d, want 415", resp.StatusCode)
	}
	var names []string
	w.call("GET", "/connectors", nil, &names)
	if len(names) != 0 {
		t.Errorf("rejected connectors were created: %v", names)
	}
	if _, err := os.Stat("/tmp/ferry-should-not-exist"); err == nil {
		t.Errorf("a sink outside the allowed paths created its file")
	}
}

// The Kafka Connect REST API's core: shapes and status codes.
func TestRESTLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil))
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, nil, 0o644)
	cfg := map[string]string{"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "tasks.max": "1", "file": in, "topic": uniqueTopic(t)}

	var info struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
		Tasks  []struct {
			Connector string `json:"connector"`
			Task      int    `json:"task"`
		} `json:"tasks"`
		Type string `json:"type"`
	}
	if code := w.call("POST", "/connectors", map[string]any{"name": "c1", "config": cfg}, &info); code != 201 {
		t.Fatalf("create = %d", code)
	}
	if info.Name != "c1" || info.Config["name"] != "c1" || info.Type != "source" {
		t.Errorf("created info = %+v", info)
	}
	var e errorBody
	if code := w.call("POST", "/connectors", map[string]any{"name": "c1", "config": cfg}, &e); code != 409 {
		t.Errorf("duplicate create = %d, want 409", code)
	}
	waitFor(t, 10*time.Second, "c1 running", func() bool { return w.running("c1") })

	var tasks []struct {
		ID struct {
			Connector string `json:"connector"`
			Task      int    `json:"task"`
		} `json:"id"`
		Config map[string]string `json:"config"`
	}
	w.call("GET", "/connectors/c1/tasks", nil, &tasks)
	if len(tasks) != 1 || tasks[0].ID.Connector != "c1" || tasks[0].Config["task.class"] != "org.apache.kafka.connect.file.FileStreamSourceTask" {
		t.Errorf("tasks = %+v", tasks)
	}

	for _, step := range []struct {
		method, path string
		code         int
		state        string
	}{
		{"PUT", "/connectors/c1/pause", 202, "PAUSED"},
		{"PUT", "/connectors/c1/resume", 202, "RUNNING"},
		{"PUT", "/connectors/c1/stop", 204, "STOPPED"},
		{"PUT", "/connectors/c1/resume", 202, "RUNNING"},
		{"POST", "/connectors/c1/restart", 204, "RUNNING"},
	} {
		if code := w.call(step.method, step.path, nil, nil); code != step.code {
			t.Fatalf("%s %s = %d, want %d", step.method, step.path, code, step.code)
		}
		waitFor(t, 10*time.Second, "state "+step.state, func() bool { return w.status("c1").Connector.State == step.state })
	}

	var task struct {
		ID    int    `json:"id"`
		State string `json:"state"`
	}
	if code := w.call("GET", "/connectors/c1/tasks/0/status", nil, &task); code != 200 || task.State != "RUNNING" {
		t.Errorf("task status = %d %+v", code, task)
	}
	if code := w.call("GET", "/connectors/c1/tasks/7/status", nil, nil); code != 404 {
		t.Errorf("unknown task status = %d, want 404", code)
	}
	if code := w.call("POST", "/connectors/c1/tasks/0/restart", nil, nil); code != 204 {
		t.Errorf("task restart = %d, want 204", code)
	}
	waitFor(t, 10*time.Second, "c1 running after task restart", func() bool { return w.running("c1") })

	// Validation answers 200 with every problem, as Kafka Connect's.
	var infos struct {
		Name       string `json:"name"`
		ErrorCount int    `json:"error_count"`
		Configs    []struct {
			Definition *struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"definition"`
			Value struct {
				Name   string   `json:"name"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	bad := map[string]string{"connector.class": "FileStreamSource", "tasks.max": "0", "topic": "t"}
	if code := w.call("PUT", "/connector-plugins/FileStreamSource/config/validate", bad, &infos); code != 200 {
		t.Fatalf("validate = %d", code)
	}
	errorsByKey := map[string]int{}
	for _, c := range infos.Configs {
		errorsByKey[c.Value.Name] = len(c.Value.Errors)
	}
	if infos.Name != "org.apache.kafka.connect.file.FileStreamSourceConnector" || infos.ErrorCount != 3 ||
		errorsByKey["tasks.max"] != 1 || errorsByKey["file"] != 1 || errorsByKey["name"] != 1 || errorsByKey["topic"] != 0 {
		t.Errorf("validate = %+v", infos)
	}
	var keys []struct {
		Name     string `json:"name"`
		Required bool   `json:"required"`
	}
	if code := w.call("GET", "/connector-plugins/FileStreamSource/config", nil, &keys); code != 200 || len(keys) < 6 {
		t.Errorf("plugin config = %d %+v", code, keys)
	}
	if code := w.call("PUT", "/connector-plugins/FileStreamSink/config/validate", bad, nil); code != 400 {
		t.Errorf("validate with a mismatched class = %d, want 400", code)
	}

	cfg["tasks.max"] = "2"
	if code := w.call("PUT", "/connectors/c1/config", cfg, &info); code != 200 {
		t.Errorf("update config = %d, want 200", code)
	}
	var got map[string]string
	w.call("GET", "/connectors/c1/config", nil, &got)
	if got["tasks.max"] != "2" {
		t.Errorf("config after update = %v", got)
	}
	if code := w.call("PUT", "/connectors/c2/config", cfg, &info); code != 201 {
		t.Errorf("create through PUT = %d, want 201", code)
	}
	if code := w.call("DELETE", "/connectors/c1", nil, nil); code != 204 {
		t.Errorf("delete = %d, want 204", code)
	}
	if code := w.call("GET", "/connectors/c1", nil, &e); code != 404 || e.ErrorCode != 404 {
		t.Errorf("get deleted = %d %+v, want 404", code, e)
	}

	// Connectors survive a worker restart.
	w.stop()
	w2 := startWorker(t, dir, writeWorkerConfig(t, dir, nil))
	waitFor(t, 10*time.Second, "c2 running after restart", func() bool { return w2.running("c2") })
}
