package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

func sinkConnector() sdk.SinkConnector {
	return sdk.SinkConnector{
		Class:     "org.apache.kafka.connect.file.FileStreamSinkConnector",
		Aliases:   []string{"FileStreamSinkConnector", "FileStreamSink"},
		TaskClass: "org.apache.kafka.connect.file.FileStreamSinkTask",
		Version:   version,
		Config: []sdk.ConfigDef{
			{Name: "file", Type: sdk.TypeString, Required: true, Doc: "Destination filename", Validate: allowedFile},
		},
		Open: openSink,
	}
}

// sink appends each record's value as a line; Flush makes the lines durable.
type sink struct {
	name string
	f    *os.File
	w    *bufio.Writer
}

func openSink(_ context.Context, cfg sdk.Config) (sdk.SinkTask, error) {
	s := &sink{name: cfg.String("file")}
	path, err := sdk.AllowedPath(s.name)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.name, err)
	}
	if err := dropPartialLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("repair %s: %w", s.name, err)
	}
	s.f = f
	s.w = bufio.NewWriterSize(s.f, 256<<10)
	return s, nil
}

// dropPartialLine truncates f after its last newline. A crash can leave a
// torn last line behind; it was never flushed, so its record was never
// committed and will be delivered again.
func dropPartialLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	end := st.Size()
	buf := make([]byte, 4096)
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == st.Size() {
		return nil
	}
	return f.Truncate(end)
}

func (s *sink) Put(_ context.Context, records []sdk.SinkRecord) error {
	for i := range records {
		s.w.WriteString(valueText(records[i].ValueSchema, records[i].Value))
		if err := s.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write %s: %w", s.name, err)
		}
	}
	return nil
}

// ReusesRecords lets the SDK reuse records between puts: Put copies each
// value into the file's buffer.
func (s *sink) ReusesRecords() {}

func (s *sink) Flush(context.Context) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", s.name, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.name, err)
	}
	return nil
}

func (s *sink) Close() error {
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
