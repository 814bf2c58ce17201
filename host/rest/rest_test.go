package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/ferry-connect/ferry/host/herder"
)

const newConnector = `{"name":"new","config":{"connector.class":"FileStreamSource","file":"in.txt","topic":"t"}}`
const flatConfig = `{"connector.class":"FileStreamSink","file":"out.txt","topics":"t"}`

func TestMain(m *testing.M) {
	// The guard logs every recovered panic to the standard logger; the
	// tests provoke some on purpose.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// serve sends one request to a Handler over h.
func serve(h herder.Herder, method, target, contentType string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	Handler(h, "cluster-1").ServeHTTP(rec, req)
	return rec
}

// errorBody checks that rec is a Kafka Connect error: status code, JSON
// content type, {"error_code": code, "message": non-empty}. It returns the
// message.
func errorBody(t *testing.T, rec *httptest.ResponseRecorder, code int) string {
	t.Helper()
	if rec.Code != code {
		t.Fatalf("status %d, want %d; body %q", rec.Code, code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %q", ct, rec.Body.String())
	}
	var e struct {
		ErrorCode *int    `json:"error_code"`
		Message   *string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorCode == nil || e.Message == nil {
		t.Fatalf("error body %q is not {error_code, message}: %v", rec.Body.String(), err)
	}
	if *e.ErrorCode != code || *e.Message == "" {
		t.Fatalf("error body %q: want error_code %d and a message", rec.Body.String(), code)
	}
	return *e.Message
}

// Regression: writes with a non-JSON Content-Type (or none) were accepted,
// so any web page a user visited could POST connectors to localhost with a
// "simple" cross-origin request, which needs no CORS preflight. Kafka
// Connect (Jersey, @Consumes JSON on its resources) answers 415.
func TestContentType(t *testing.T) {
	t.Parallel()
	const src = "/connectors/local-file-source"
	for _, tc := range []struct {
		method, target, contentType, body string
		want                              int
	}{
		// Endpoints that read a body need application/json.
		{"POST", "/connectors", "", newConnector, 415},
		{"POST", "/connectors", "text/plain", newConnector, 415},
		{"POST", "/connectors", "text/plain;charset=UTF-8", newConnector, 415},
		{"POST", "/connectors", "application/x-www-form-urlencoded", newConnector, 415},
		{"POST", "/connectors", "multipart/form-data; boundary=x", newConnector, 415},
		{"POST", "/connectors", "application/jsonx", newConnector, 415},
		{"POST", "/connectors", "application/merge-patch+json", newConnector, 415},
		{"POST", "/connectors", "application/json; charset", newConnector, 415},
		{"POST", "/connectors", "application/json", newConnector, 201},
		{"POST", "/connectors", "Application/JSON; charset=utf-8", newConnector, 201},
		{"POST", "/connectors", "application/json;charset=UTF-8", newConnector, 201},
		{"PUT", "/connectors/sink/config", "", flatConfig, 415},
		{"PUT", "/connectors/sink/config", "text/plain", flatConfig, 415},
		{"PUT", "/connectors/sink/config", "application/json", flatConfig, 201},
		{"PUT", "/connector-plugins/FileStreamSink/config/validate", "", flatConfig, 415},
		{"PUT", "/connector-plugins/FileStreamSink/config/validate", "application/x-www-form-urlencoded", flatConfig, 415},
		{"PUT", "/connector-plugins/FileStreamSink/config/validate", "application/json", flatConfig, 200},
		// Bodiless endpoints: as Jersey, no Content-Type passes, a
		// non-JSON one does not.
		{"PUT", src + "/pause", "", "", 202},
		{"PUT", src + "/pause", "text/plain", "", 415},
		{"PUT", src + "/pause", "application/json", "", 202},
		{"PUT", src + "/resume", "", "", 202},
		{"PUT", src + "/resume", "text/plain", "", 415},
		{"PUT", src + "/stop", "", "", 204},
		{"PUT", src + "/stop", "application/x-www-form-urlencoded", "", 415},
		{"POST", src + "/restart", "", "", 204},
		{"POST", src + "/restart", "text/plain", "", 415},
		{"POST", src + "/restart?includeTasks=true", "application/json", "", 202},
		{"POST", src + "/tasks/0/restart", "", "", 204},
		{"POST", src + "/tasks/0/restart", "text/plain", "", 415},
		{"DELETE", src, "", "", 204},
		{"DELETE", src, "multipart/form-data; boundary=x", "", 415},
		// Reads, as Kafka Connect: its resources' @Consumes covers GET.
		{"GET", "/connectors", "", "", 200},
		{"GET", "/connectors", "application/json", "", 200},
		{"GET", "/connectors", "text/plain", "", 415},
		{"GET", "/", "text/plain", "", 200}, // RootResource has no @Consumes
	} {
		t.Run(tc.method+" "+tc.target+" "+tc.contentType, func(t *testing.T) {
			t.Parallel()
			rec := serve(newFakeHerder(), tc.method, tc.target, tc.contentType, strings.NewReader(tc.body))
			if tc.want == 415 {
				msg := errorBody(t, rec, 415)
				if !strings.Contains(msg, "application/json") {
					t.Errorf("message %q does not say what is expected", msg)
				}
				return
			}
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tc.want, rec.Body.String())
			}
		})
	}
}

// countingReader counts what was read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// padded is a JSON body of exactly size bytes: prefix, then a string value
// of 'a's, then suffix.
func padded(prefix, suffix string, size int) string {
	return prefix + strings.Repeat("a", size-len(prefix)-len(suffix)) + suffix
}

// Regression: request bodies had no cap; a 200 MB body grew the worker by
// 365 MB. Bodies are capped at 1 MiB (413), and decoding reads no further.
func TestBodyCap(t *testing.T) {
	t.Parallel()
	const (
		createPrefix = `{"name":"big","config":{"connector.class":"FileStreamSource","topic":"t","file":"`
		flatPrefix   = `{"connector.class":"FileStreamSink","topics":"t","file":"`
	)
	for _, tc := range []struct {
		name, method, target, prefix, suffix string
		size                                 int
		chunked                              bool // no Content-Length
		want                                 int
	}{
		{"create at the cap", "POST", "/connectors", createPrefix, `"}}`, maxBodyBytes, false, 201},
		{"create over the cap", "POST", "/connectors", createPrefix, `"}}`, maxBodyBytes + 1, false, 413},
		{"create chunked over the cap", "POST", "/connectors", createPrefix, `"}}`, maxBodyBytes + 1, true, 413},
		{"create chunked 4 MiB", "POST", "/connectors", createPrefix, `"}}`, 4 << 20, true, 413},
		{"put at the cap", "PUT", "/connectors/big/config", flatPrefix, `"}`, maxBodyBytes, true, 201},
		{"put over the cap", "PUT", "/connectors/big/config", flatPrefix, `"}`, maxBodyBytes + 1, false, 413},
		{"put chunked 4 MiB", "PUT", "/connectors/big/config", flatPrefix, `"}`, 4 << 20, true, 413},
		{"validate chunked 4 MiB", "PUT", "/connector-plugins/FileStreamSink/config/validate", flatPrefix, `"}`, 4 << 20, true, 413},
		{"validate at the cap", "PUT", "/connector-plugins/FileStreamSink/config/validate", flatPrefix, `"}`, maxBodyBytes, false, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := &countingReader{r: strings.NewReader(padded(tc.prefix, tc.suffix, tc.size))}
			req := httptest.NewRequest(tc.method, tc.target, body)
			req.Header.Set("Content-Type", "application/json")
			if !tc.chunked {
				req.ContentLength = int64(tc.size)
			}
			rec := httptest.NewRecorder()
			Handler(newFakeHerder(), "c").ServeHTTP(rec, req)
			if body.n > maxBodyBytes+1 {
				t.Errorf("read %d bytes of the body, more than the cap %d", body.n, maxBodyBytes)
			}
			if tc.want != 413 {
				if rec.Code != tc.want {
					t.Fatalf("status %d, want %d; body %.200q", rec.Code, tc.want, rec.Body.String())
				}
				return
			}
			if msg := errorBody(t, rec, 413); !strings.Contains(msg, "1048576") {
				t.Errorf("message %q does not name the limit", msg)
			}
		})
	}
}

// Regression: unknown paths and wrong methods got net/http's text/plain
// 404 and 405, and a panic in a handler dropped the connection. Kafka
// Connect answers every error with {"error_code", "message"}.
func TestJSONErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, target string
		want           int
		allow          string // the Allow header a 405 must keep
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/connectors/local-file-source/nope", 404, ""},
		{"GET", "/connectors/local-file-source/tasks/0", 404, ""},
		{"GET", "/connectors/unknown", 404, ""},
		{"GET", "/connectors/local-file-source/tasks/7/status", 404, ""},
		{"GET", "/connector-plugins/NoSuchConnector/config", 404, ""},
		{"DELETE", "/connectors", 405, "GET, HEAD, POST"},
		{"PATCH", "/connectors/local-file-source/config", 405, "GET, HEAD, PUT"},
		{"POST", "/", 405, "GET, HEAD"},
		{"GET", "/connectors/local-file-source/pause", 405, "PUT"},
		{"OPTIONS", "/connectors", 405, "GET, HEAD, POST"},
		{"GET", "*", 400, ""}, // the mux's own 400 had no body (found by FuzzHandler)
		{"GET", "/connectors/boom", 500, ""},
		{"GET", "/connectors/boom/status", 500, ""},
		{"GET", "/connectors?expand=status&expand=info", 500, ""}, // boom's status panics while listing
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			h := newFakeHerder()
			if tc.want == 500 {
				h.connectors["boom"] = h.connectors["local-file-source"]
				h.panicOn = "boom"
			}
			rec := serve(h, tc.method, tc.target, "", nil)
			errorBody(t, rec, tc.want)
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

// Regression: a panic in a handler dropped the connection; over a real
// server the client must get a JSON 500.
func TestPanicOverHTTP(t *testing.T) {
	t.Parallel()
	h := newFakeHerder()
	h.panicOn = "local-file-source"
	srv := httptest.NewServer(Handler(h, "c"))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/connectors/local-file-source/status")
	if err != nil {
		t.Fatalf("connection dropped: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"error_code":500`) {
		t.Fatalf("got %d %q %q, want a JSON 500", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// A panic after the answer has begun cannot become a 500: the guard
// aborts the response (http.ErrAbortHandler), as net/http would.
func TestPanicAfterWrite(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(rw http.ResponseWriter, _ *http.Request) {
		rw.WriteHeader(http.StatusOK)
		panic("late")
	})
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	(&guard{mux: mux}).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
}

// Regression: the Location header was "/connectors/"+name unescaped, so a
// name holding '/', '?' or a space pointed elsewhere. The REST layer's own
// name checks answer 400 with JSON, and path segments holding encoded
// '/', '.' or control characters reach the herder as names, not as paths.
func TestNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, target, body string
		want                 int
		location, message    string
	}{
		{"POST", "/connectors", `{"name":"  ","config":{}}`, 400, "", "Connector name must not be empty"},
		{"POST", "/connectors", `{"config":{"connector.class":"FileStreamSink"}}`, 400, "", "Connector name must not be empty"},
		{"POST", "/connectors", `{"name":"a"}`, 400, "", "Connector config is missing"},
		{"POST", "/connectors", `{"name":" a ","config":{"name":"b","connector.class":"FileStreamSink","file":"f"}}`, 400, "", "doesn't match"},
		{"POST", "/connectors", `{"name":" a ","config":{"connector.class":"FileStreamSink","file":"f"}}`, 201, "/connectors/a", ""},
		{"POST", "/connectors", `{"name":"a/b?c d","config":{"connector.class":"FileStreamSink","file":"f"}}`, 201, "/connectors/a%2Fb%3Fc%20d", ""},
		{"POST", "/connectors", `{"name":"..","config":{"connector.class":"FileStreamSink","file":"f"}}`, 400, "", "name"},
		{"POST", "/connectors", `{"name":"a\u0000b","config":{"connector.class":"FileStreamSink","file":"f"}}`, 400, "", "name"},
		{"POST", "/connectors", `{"name":"a","config":{"file":{"nested":1}}}`, 400, "", "must be a string"},
		{"POST", "/connectors", `{"name":"a","config":{"connector.class":"FileStreamSink","file":"f"},"initial_state":"GONE"}`, 400, "", "Invalid initial state"},
		{"PUT", "/connectors/a%2Fb/config", flatConfig, 201, "/connectors/a%2Fb", ""},
		{"PUT", "/connectors/my%20sink/config", flatConfig, 201, "/connectors/my%20sink", ""},
		{"PUT", "/connectors/%2E%2E/config", flatConfig, 400, "", "name"},
		{"PUT", "/connectors/%2E/config", flatConfig, 400, "", "name"},
		{"PUT", "/connectors/a%0D%0ALocation:%20x/config", flatConfig, 400, "", "name"},
		{"PUT", "/connectors/x/config", `{"name":"y","connector.class":"FileStreamSink","file":"f"}`, 400, "", "doesn't match"},
		{"GET", "/connectors/%2E%2E", "", 404, "", "not found"},
		{"GET", "/connectors/%00", "", 404, "", "not found"},
		{"GET", "/connectors/a%2F..%2Flocal-file-source", "", 404, "", "not found"},
		{"DELETE", "/connectors/%2E%2E", "", 404, "", "not found"},
		{"PUT", "/connectors/%0A/pause", "", 404, "", "not found"},
		// Go's mux matches no route for a segment that is exactly %2F.
		{"GET", "/connectors/local-file-source/tasks/%2F/status", "", 404, "", "Not Found"},
		{"GET", "/connectors/%2F", "", 404, "", "Not Found"},
		{"GET", "/connectors/local-file-source/tasks/%2F0/status", "", 404, "", "not found"},
		{"GET", "/connectors/local-file-source/tasks/-1/status", "", 404, "", "not found"},
		{"GET", "/connectors/local-file-source/tasks/99999999999999999999/status", "", 404, "", "not found"},
		{"GET", "/connector-plugins/%2E%2E%2FFileStreamSink/config", "", 404, "", "not found"},
	} {
		t.Run(tc.method+" "+tc.target+" "+tc.body, func(t *testing.T) {
			t.Parallel()
			rec := serve(newFakeHerder(), tc.method, tc.target, "application/json", strings.NewReader(tc.body))
			if tc.want >= 400 {
				if msg := errorBody(t, rec, tc.want); !strings.Contains(msg, tc.message) {
					t.Errorf("message %q, want it to contain %q", msg, tc.message)
				}
				return
			}
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tc.want, rec.Body.String())
			}
			if got := rec.Header().Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
		})
	}
}

// A name the PUT path created is reachable again through its escaped
// Location.
func TestLocationRoundTrip(t *testing.T) {
	t.Parallel()
	h := newFakeHerder()
	for _, name := range []string{"a/b", "x?y#z", "sp ace", "per%cent", "ünï"} {
		rec := serve(h, "PUT", location(name)+"/config", "application/json", strings.NewReader(flatConfig))
		if rec.Code != 201 {
			t.Fatalf("PUT %q: status %d %q", name, rec.Code, rec.Body.String())
		}
		loc := rec.Header().Get("Location")
		rec = serve(h, "GET", loc, "", nil)
		var info struct{ Name string }
		if err := json.Unmarshal(rec.Body.Bytes(), &info); rec.Code != 200 || err != nil || info.Name != name {
			t.Errorf("GET %s: %d %q, want connector %q", loc, rec.Code, rec.Body.String(), name)
		}
	}
	if got, want := location("a\r\nb"), "/connectors/a%0D%0Ab"; got != want {
		t.Errorf("location: %q, want %q", got, want)
	}
}

// The handler is usable over any Herder and answers its errors by kind.
func TestHerderErrors(t *testing.T) {
	t.Parallel()
	h := newFakeHerder()
	rec := serve(h, "POST", "/connectors", "application/json", strings.NewReader(
		`{"name":"local-file-source","config":{"connector.class":"FileStreamSource","file":"f","topic":"t"}}`))
	errorBody(t, rec, 409)
	rec = serve(h, "POST", "/connectors", "application/json", strings.NewReader(`{"name":"n","config":{"connector.class":"Nope"}}`))
	if msg := errorBody(t, rec, 400); !strings.Contains(msg, "connector.class") {
		t.Errorf("message %q does not name the key", msg)
	}
	rec = serve(h, "POST", "/connectors", "application/json", strings.NewReader(`{"name":`))
	errorBody(t, rec, 400)
	rec = serve(h, "POST", "/connectors", "application/json", nil)
	errorBody(t, rec, 400)
	if err := fmt.Errorf("wrapped: %w", errBodyTooLarge); !errors.Is(err, errBodyTooLarge) {
		t.Fatal("errBodyTooLarge does not survive wrapping")
	}
}

// A write a browser sends on behalf of another site is refused: without
// a preflight, a web page could have restarted or deleted connectors on
// localhost (a POST with no body needs no CORS preflight). Reads, and
// clients that are not browsers, pass.
func TestCrossOriginWrites(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, target string
		headers              map[string]string
		code                 int
	}{
		{"cross-site restart", "POST", "/connectors/local-file-source/restart", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site delete", "DELETE", "/connectors/local-file-source", map[string]string{"Origin": "https://evil.example"}, 403},
		{"cross-site read", "GET", "/connectors", map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
		{"same-origin restart", "POST", "/connectors/local-file-source/restart", map[string]string{"Sec-Fetch-Site": "same-origin"}, 204},
		{"curl restart", "POST", "/connectors/local-file-source/restart", nil, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHerder()
			req := httptest.NewRequest(tc.method, tc.target, nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			Handler(h, "cluster-1").ServeHTTP(rec, req)
			if tc.code == 403 {
				errorBody(t, rec, 403)
				return
			}
			if rec.Code != tc.code {
				t.Errorf("status %d, want %d; body %q", rec.Code, tc.code, rec.Body.String())
			}
		})
	}
}
