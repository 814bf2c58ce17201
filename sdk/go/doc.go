// Package sdk is what a Ferry plugin author imports. A plugin binary calls
// Serve with the connector classes it provides; each class declares its
// configuration keys and opens tasks. The SDK does the rest: the go-plugin
// handshake, the gRPC streams, batching, config defaults and validation,
// offset bookkeeping, logging to the host, and exiting when the host dies.
//
// See plugins/file for a complete connector.
package sdk
