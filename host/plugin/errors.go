package plugin

import "errors"

var (
	// ErrExited means the plugin process has exited; the error wrapping it
	// says how.
	ErrExited = errors.New("plugin process exited")
	// ErrUnresponsive means the plugin process is alive but answered no
	// health check in time; it has been killed.
	ErrUnresponsive = errors.New("plugin process is not responding")
)
