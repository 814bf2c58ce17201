package rest

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ferry-connect/ferry/host/herder"
)

// maxBodyBytes caps a request body. A distributed Kafka Connect cannot
// store a config larger than its config topic's 1 MB max message size
// either; without a cap, a 200 MB body grew the worker by 365 MB.
const maxBodyBytes = 1 << 20

// statusError is an error the REST layer answers with its own status code.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// errBodyTooLarge answers a body over maxBodyBytes (413).
var errBodyTooLarge = &statusError{http.StatusRequestEntityTooLarge,
	fmt.Sprintf("Request body is larger than the limit of %d bytes (1 MiB)", maxBodyBytes)}

// httpStatusError is what Jersey's WebApplicationException says for code,
// e.g. "HTTP 404 Not Found"; detail, if any, is appended.
func httpStatusError(code int, detail string) *statusError {
	msg := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	if detail != "" {
		msg += ": " + detail
	}
	return &statusError{code, msg}
}

// writeError answers as Kafka Connect's ConnectExceptionMapper does:
// {"error_code": N, "message": "..."} with status N.
func writeError(rw http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var invalid *herder.InvalidConfigError
	var bad *herder.BadRequestError
	var status *statusError
	var remote *herder.RemoteError
	switch {
	case errors.As(err, &status):
		code = status.code
	case errors.As(err, &remote):
		code = remote.Code
	case errors.Is(err, herder.ErrRebalancing):
		code = http.StatusConflict
	case errors.Is(err, herder.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, herder.ErrExists):
		code = http.StatusConflict
	case errors.As(err, &invalid), errors.As(err, &bad):
		code = http.StatusBadRequest
	}
	writeJSON(rw, code, map[string]any{"error_code": code, "message": err.Error()})
}
