// Command verifiable is Ferry's counterpart of Apache Kafka's test
// connectors VerifiableSourceConnector and VerifiableSinkConnector
// (org.apache.kafka.connect.tools): a source whose tasks number their
// records, and a sink that reports every record it sees and flushes. With
// ferry.verifiable.output.file set, both append a JSON line per record to
// that file, as Kafka's print to stdout, so a checker can count gaps and
// duplicates per task across restarts and crashes.
package main

import sdk "github.com/ferry-connect/ferry/sdk/go"

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0"

func main() {
	sdk.Serve(sdk.Plugin{
		Name:    "verifiable",
		Version: version,
		Sources: []sdk.SourceConnector{sourceConnector()},
		Sinks:   []sdk.SinkConnector{sinkConnector()},
	})
}
