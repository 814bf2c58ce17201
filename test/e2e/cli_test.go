package e2e

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cli runs `ferry --admin ADDR args...` and returns its exit code and output.
func (w *workerProc) cli(args ...string) (int, string, string) {
	cmd := exec.Command(filepath.Join(binDir, "ferry"), append([]string{"--admin", w.admin}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestCLIOverGRPCAdmin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := startWorker(t, dir, writeWorkerConfig(t, dir, nil))
	p := pipeline(t, dir)
	appendLines(t, p.In, 0, 10, 10, 0)
	src := p.SrcCfg

	if code, out, errOut := w.cli("connectors", "create", src); code != 0 || !strings.Contains(out, `"name": "`+p.Src+`"`) {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	waitFor(t, 10*time.Second, "src running", func() bool { return w.running(p.Src) })
	if code, out, _ := w.cli("connectors", "status", p.Src); code != 0 || !strings.Contains(out, `"state": "RUNNING"`) {
		t.Errorf("status: %d %s", code, out)
	}
	if code, out, _ := w.cli("connectors", "list"); code != 0 || !strings.Contains(out, `"`+p.Src+`"`) {
		t.Errorf("list: %d %s", code, out)
	}
	if code, out, _ := w.cli("plugins"); code != 0 || !strings.Contains(out, "FileStreamSinkConnector") {
		t.Errorf("plugins: %d %s", code, out)
	}
	if code, _, errOut := w.cli("connectors", "create", src); code != 1 || !strings.Contains(errOut, "AlreadyExists") {
		t.Errorf("duplicate create: %d %s", code, errOut)
	}
	bad := filepath.Join(dir, "bad.properties")
	writeProps(t, bad, map[string]string{"name": "bad", "connector.class": "FileStreamSource", "tasks.max": "0", "topic": "t"})
	if code, _, errOut := w.cli("connectors", "create", bad); code != 1 || !strings.Contains(errOut, "tasks.max: ") || !strings.Contains(errOut, "file: ") {
		t.Errorf("bad create: %d %s", code, errOut)
	}
	if code, out, _ := w.cli("validate", bad); code != 0 || !strings.Contains(out, `"error_count": 2`) {
		t.Errorf("validate: %d %s", code, out)
	}
	if code, _, _ := w.cli("connectors", "pause", p.Src); code != 0 {
		t.Errorf("pause: %d", code)
	}
	waitFor(t, 10*time.Second, "src paused", func() bool { return w.status(p.Src).Connector.State == "PAUSED" })
	if code, _, _ := w.cli("connectors", "delete", p.Src); code != 0 {
		t.Errorf("delete: %d", code)
	}
	if code, _, errOut := w.cli("connectors", "get", p.Src); code != 1 || !strings.Contains(errOut, "NotFound") {
		t.Errorf("get deleted: %d %s", code, errOut)
	}
}
