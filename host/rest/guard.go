package rest

import (
	"fmt"
	"log"
	"mime"
	"net/http"
	"runtime/debug"
)

// guard is the REST API's outermost handler. It caps request bodies at
// maxBodyBytes, refuses changes a browser sends from another site,
// answers the mux's own errors (404 unknown path, 405 wrong method, 400
// for "*") with Kafka Connect's JSON error body, and turns a panic in a
// handler into a JSON 500 instead of a dropped connection.
type guard struct {
	mux *http.ServeMux
	// crossOrigin refuses a write a browser sends on behalf of another
	// site (it says so in Sec-Fetch-Site or Origin): a web page the user
	// visits could otherwise restart or delete connectors on localhost
	// with a request that needs no CORS preflight. Clients that are not
	// browsers send neither header and pass.
	crossOrigin http.CrossOriginProtection
}

func (g *guard) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &trackingWriter{ResponseWriter: rw}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		// The standard logger is where net/http itself would have
		// logged this panic.
		log.Printf("rest: panic serving %s %q: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
		if w.wrote {
			// Part of the answer is out: cut the connection, as net/http
			// does, so that the client sees it is incomplete.
			panic(http.ErrAbortHandler)
		}
		writeError(w, httpStatusError(http.StatusInternalServerError, "the request failed unexpectedly; the worker's log has the details"))
	}()
	if err := g.crossOrigin.Check(r); err != nil {
		writeError(w, httpStatusError(http.StatusForbidden, "cross-origin request refused: "+err.Error()))
		return
	}
	if r.Body != nil {
		// rw, not w: MaxBytesReader tells the server through it to close
		// the connection once the cap is hit.
		r.Body = http.MaxBytesReader(rw, r.Body, maxBodyBytes)
	}
	if _, pattern := g.mux.Handler(r); pattern == "" {
		// No route: the mux answers 404, 405 (with Allow), 400 (for "*")
		// or a redirect to the cleaned path.
		g.mux.ServeHTTP(&jsonStatus{ResponseWriter: w}, r)
		return
	}
	g.mux.ServeHTTP(w, r)
}

// trackingWriter records whether the answer has begun.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// jsonStatus replaces the mux's own error answers with JSON errors worded
// as Jersey's ("HTTP 404 Not Found"): 404 and 405 in text/plain, and a 400
// with no body at all for the request-target "*" (GET * HTTP/1.1). A
// redirect to a cleaned path passes.
type jsonStatus struct {
	http.ResponseWriter
	replaced bool
}

func (w *jsonStatus) WriteHeader(code int) {
	if code >= 400 {
		w.replaced = true
		writeError(w.ResponseWriter, httpStatusError(code, ""))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *jsonStatus) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil // net/http's plain-text body
	}
	return w.ResponseWriter.Write(b)
}

func (w *jsonStatus) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// consumesJSON answers 415 unless the request's Content-Type is
// application/json (any case, any parameters), as Jersey does for Kafka
// Connect's resources, which @Consumes(MediaType.APPLICATION_JSON). A
// request without a Content-Type passes unless the endpoint reads a body:
// Jersey reads a body without one as application/octet-stream, which its
// JSON reader refuses. This is also what keeps a web page from writing
// connectors: a cross-origin request that needs no CORS preflight can only
// carry text/plain, a form type, or no Content-Type at all.
func consumesJSON(readsBody bool, h http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		switch {
		case ct == "" && !readsBody:
		case ct == "":
			writeError(rw, httpStatusError(http.StatusUnsupportedMediaType, "the request has no Content-Type; it must be application/json"))
			return
		default:
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				if len(ct) > 100 {
					ct = ct[:100] + "..."
				}
				writeError(rw, httpStatusError(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not application/json", ct)))
				return
			}
		}
		h(rw, r)
	}
}
