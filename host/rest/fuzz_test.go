package rest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHandler feeds arbitrary method/path/query/Content-Type/body
// combinations, parsed as net/http's server parses a request, to the
// handler over a fresh fake herder. It fails on a panic, on any 5xx (a
// client's bad input is never the server's fault), on an error without
// Kafka Connect's JSON body, on a success whose JSON body does not parse,
// and on a write that succeeded with a non-JSON Content-Type.
func FuzzHandler(f *testing.F) {
	const src = "/connectors/local-file-source"
	for _, s := range [][5]string{
		{"GET", "/", "", "", ""},
		{"GET", "/connectors", "", "", ""},
		{"GET", "/connectors", "expand=status&expand=info", "", ""},
		{"GET", "/connectors", "expand=bogus", "application/json", ""},
		{"POST", "/connectors", "", "application/json", newConnector},
		{"POST", "/connectors", "", "application/json; charset=utf-8", `{"name":" padded ","config":{"name":" padded ","connector.class":"FileStreamSink","file":"f","tasks.max":2}}`},
		{"POST", "/connectors", "", "application/json", `{"name":"p","config":{"connector.class":"FileStreamSource","file":"f","topic":"t","batch.size":1e3,"x":true,"y":null},"initial_state":"paused"}`},
		{"POST", "/connectors", "", "application/json", `{"name":"a/b","config":{"connector.class":"FileStreamSink","file":"f"}}`},
		{"POST", "/connectors", "", "application/json", `{"name":5}`},
		{"POST", "/connectors", "", "application/json", `[1,2]`},
		{"POST", "/connectors", "", "text/plain", newConnector},
		{"POST", "/connectors", "", "application/x-www-form-urlencoded", "name=x"},
		{"POST", "/connectors", "", "", newConnector},
		{"GET", src, "", "", ""},
		{"GET", src + "/config", "", "", ""},
		{"PUT", src + "/config", "", "application/json", `{"connector.class":"FileStreamSource","file":"g","topic":"t","tasks.max":"3"}`},
		{"PUT", "/connectors/new/config", "", "application/json", flatConfig},
		{"PUT", "/connectors/%2E%2E/config", "", "application/json", flatConfig},
		{"PUT", "/connectors/a%2Fb/config", "", "application/json", `{"name":"a/b","connector.class":"FileStreamSink","file":"f"}`},
		{"GET", src + "/status", "", "", ""},
		{"GET", src + "/tasks", "", "", ""},
		{"GET", src + "/tasks/0/status", "", "", ""},
		{"GET", src + "/tasks/-1/status", "", "", ""},
		{"POST", src + "/tasks/0/restart", "", "", ""},
		{"PUT", src + "/pause", "", "", ""},
		{"PUT", src + "/resume", "", "application/json", ""},
		{"PUT", src + "/stop", "", "text/plain", ""},
		{"POST", src + "/restart", "includeTasks=true&onlyFailed=true", "", ""},
		{"POST", src + "/restart", "includeTasks=false", "", ""},
		{"DELETE", src, "", "", ""},
		{"DELETE", "/connectors/%00", "", "", ""},
		{"GET", "/connector-plugins", "connectorsOnly=false", "", ""},
		{"GET", "/connector-plugins/FileStreamSource/config", "", "", ""},
		{"GET", "/connector-plugins/FileStreamSink/config", "", "", ""},
		{"PUT", "/connector-plugins/FileStreamSink/config/validate", "", "application/json", flatConfig},
		{"PUT", "/connector-plugins/FileStreamSinkConnector/config/validate", "", "application/json", `{"connector.class":"FileStreamSource","tasks.max":"0","extra":"1"}`},
		{"PUT", "/connector-plugins/FileStreamSource/config/validate", "", "application/json", `{}`},
		{"PATCH", src + "/config", "", "application/json", `{}`},
		{"OPTIONS", "/connectors", "", "", ""},
		{"GET", "/connectors/a/../b", "", "", ""},
		{"GET", "//connectors", "", "", ""},
		{"HEAD", "/connectors", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	f.Fuzz(func(t *testing.T, method, path, query, contentType, body string) {
		req, ok := parseRequest(method, path, query, contentType, body)
		if !ok {
			return // net/http's server answers 400 itself
		}
		rec := httptest.NewRecorder()
		Handler(newFakeHerder(), "cluster-1").ServeHTTP(rec, req)
		checkAnswer(t, req, rec)
	})
}

// parseRequest builds the request net/http's server would hand the
// handler, or reports that the server would refuse it.
func parseRequest(method, path, query, contentType, body string) (*http.Request, bool) {
	var b strings.Builder
	b.WriteString(method + " " + path)
	if query != "" {
		b.WriteString("?" + query)
	}
	b.WriteString(" HTTP/1.1\r\nHost: localhost:8083\r\n")
	if contentType != "" {
		if !validHeaderValue(contentType) {
			return nil, false
		}
		b.WriteString("Content-Type: " + contentType + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		return nil, false
	}
	return req, true
}

// validHeaderValue is net/http's server-side check (httpguts): no control
// characters but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func checkAnswer(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	what := fmt.Sprintf("%s %s (Content-Type %q)", req.Method, req.URL.RequestURI(), req.Header.Get("Content-Type"))
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d, body %q", what, rec.Code, rec.Body.String())
	}
	isJSON := rec.Header().Get("Content-Type") == "application/json"
	if rec.Code >= 400 {
		var e struct {
			ErrorCode *int    `json:"error_code"`
			Message   *string `json:"message"`
		}
		if !isJSON || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.ErrorCode == nil || e.Message == nil || *e.ErrorCode != rec.Code {
			t.Fatalf("%s: status %d with a body that is not a JSON error: %q %q", what, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
		}
		return
	}
	if isJSON && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s: status %d with invalid JSON %q", what, rec.Code, rec.Body.String())
	}
	if rec.Code < 300 && req.Method != "GET" && req.Method != "HEAD" {
		if ct := req.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				t.Fatalf("%s: a write with Content-Type %q succeeded (%d)", what, ct, rec.Code)
			}
		}
	}
}
