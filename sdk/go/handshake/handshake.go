// Package handshake holds what the Ferry host and its plugins must agree on
// before they speak gRPC: go-plugin's handshake and the names it dispenses.
package handshake

import plugin "github.com/hashicorp/go-plugin"

// ProtocolVersion is the ferry.plugin.v1 protocol version.
//
// History: 1 = ferry.plugin.v1 (Spec, Connector, SourceTask.Run, SinkTask.Run).
const ProtocolVersion = 1

// Config is go-plugin's handshake. The cookie keeps a plugin binary from
// being run by hand as if it were a normal program.
var Config = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "FERRY_PLUGIN",
	MagicCookieValue: "ferry.plugin.v1",
}

// PluginName is the single name under which a plugin process registers its
// services in go-plugin's plugin map.
const PluginName = "ferry"

// MaxMessageBytes bounds one gRPC message either way (a batch of records);
// gRPC's default of 4 MiB is too small for large batches.
const MaxMessageBytes = 256 << 20

// WindowBytes is the gRPC flow-control window each side grants, per stream
// and per connection. A fixed window replaces gRPC's bandwidth estimation,
// which grows it to 16 MiB: over a local socket 1 MiB already keeps the
// pipe full, and a slow receiver then buffers at most that much.
const WindowBytes = 1 << 20

// Environment variables through which the host tells a plugin which local
// paths connectors may use (see sdk.AllowedPath): lists of absolute paths
// with symlinks resolved, separated by os.PathListSeparator. When
// EnvAllowedPaths is unset, paths are not restricted.
const (
	EnvAllowedPaths = "FERRY_ALLOWED_PATHS"
	EnvDeniedPaths  = "FERRY_DENIED_PATHS"
)
