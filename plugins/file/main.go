// Command file is Ferry's file connector plugin: FileStreamSource and
// FileStreamSink, with Kafka Connect's configuration and offsets.
package main

import sdk "github.com/ferry-connect/ferry/sdk/go"

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0"

func main() {
	sdk.Serve(sdk.Plugin{
		Name:    "file",
		Version: version,
		Sources: []sdk.SourceConnector{sourceConnector()},
		Sinks:   []sdk.SinkConnector{sinkConnector()},
	})
}
