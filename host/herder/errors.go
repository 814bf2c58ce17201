package herder

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ferry-connect/ferry/host/config"
)

// Errors the admin faces map to status codes.
var (
	// ErrNotFound: no such connector or task (404).
	ErrNotFound = errors.New("not found")
	// ErrExists: a connector with that name exists (409).
	ErrExists = errors.New("already exists")
)

// InvalidConfigError lists every problem with a connector config (400).
type InvalidConfigError struct {
	Errors []config.KeyError
}

func (e *InvalidConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Connector configuration is invalid and contains the following %d error(s):", len(e.Errors))
	for _, ke := range e.Errors {
		b.WriteString("\n" + ke.Error())
	}
	b.WriteString("\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	return b.String()
}

// BadRequestError is a malformed request (400).
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }
