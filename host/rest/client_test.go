package rest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ferry-connect/ferry/host/herder"
	"github.com/ferry-connect/ferry/host/store"
)

// TestClientForwards sends every write a follower forwards through
// Client to a REST API, and checks what the herder behind it got and what
// came back, errors included.
func TestClientForwards(t *testing.T) {
	h := newFakeHerder()
	srv := httptest.NewServer(Handler(h, "cluster"))
	defer srv.Close()
	c := NewClient(10 * time.Second)
	ctx := context.Background()
	cfg := map[string]string{"name": "src", "connector.class": fakeSource.Spec.Class, "tasks.max": "1", "file": "in.txt", "topic": "t"}

	info, err := c.Create(ctx, srv.URL, cfg, store.Paused)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if info.Name != "src" || info.Type != "source" {
		t.Errorf("create answered %+v", info)
	}
	if got := h.connectors["src"].target; got != store.Paused {
		t.Errorf("initial state reached the herder as %s, want PAUSED", got)
	}
	var remote *herder.RemoteError
	if _, err := c.Create(ctx, srv.URL, cfg, store.Started); !errors.As(err, &remote) || remote.Code != http.StatusConflict {
		t.Errorf("second create: got %v, want a RemoteError 409", err)
	}

	cfg2 := map[string]string{"name": "src", "connector.class": fakeSource.Spec.Class, "tasks.max": "2", "file": "in.txt", "topic": "t"}
	if _, created, err := c.Put(ctx, srv.URL, "src", cfg2); err != nil || created {
		t.Errorf("put over an existing connector: created=%v err=%v", created, err)
	}
	if _, created, err := c.Put(ctx, srv.URL, "other", map[string]string{"connector.class": fakeSink.Spec.Class, "topics": "t", "file": "out.txt"}); err != nil || !created {
		t.Errorf("put of a new connector: created=%v err=%v", created, err)
	}

	if err := c.SetTarget(ctx, srv.URL, "src", store.Stopped); err != nil {
		t.Errorf("stop: %v", err)
	}
	if got := h.connectors["src"].target; got != store.Stopped {
		t.Errorf("target %s, want STOPPED", got)
	}
	if _, err := c.Restart(ctx, srv.URL, "src", true, false); err != nil {
		t.Errorf("restart: %v", err)
	}

	configs := []map[string]string{{"task": "0"}, {"task": "1"}}
	if err := c.PutTaskConfigs(ctx, srv.URL, "src", configs); err != nil {
		t.Fatalf("task configs: %v", err)
	}
	if got := h.taskConfigs["src"]; len(got) != 2 || got[1]["task"] != "1" {
		t.Errorf("task configs reached the herder as %v", got)
	}
	if !h.forwarded {
		t.Error("a forwarded request was not marked forwarded: the receiver could forward it again")
	}

	if err := c.Delete(ctx, srv.URL, "src"); err != nil {
		t.Errorf("delete: %v", err)
	}
	if err := c.Delete(ctx, srv.URL, "src"); !errors.As(err, &remote) || remote.Code != http.StatusNotFound {
		t.Errorf("delete of a deleted connector: got %v, want a RemoteError 404", err)
	}
	// The REST API answers a RemoteError with the leader's code.
	rec := httptest.NewRecorder()
	writeError(rec, remote)
	if rec.Code != http.StatusNotFound {
		t.Errorf("a forwarded 404 was answered %d", rec.Code)
	}
}
