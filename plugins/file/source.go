package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unsafe"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

func sourceConnector() sdk.SourceConnector {
	return sdk.SourceConnector{
		Class:     "org.apache.kafka.connect.file.FileStreamSourceConnector",
		Aliases:   []string{"FileStreamSourceConnector", "FileStreamSource"},
		TaskClass: "org.apache.kafka.connect.file.FileStreamSourceTask",
		Version:   version,
		Config: []sdk.ConfigDef{
			{Name: "file", Type: sdk.TypeString, Required: true, Doc: "Source filename", Validate: allowedFile},
			{Name: "topic", Type: sdk.TypeString, Required: true, Doc: "The topic to publish data to", Validate: oneTopic},
			{Name: "batch.size", Type: sdk.TypeInt, Default: "2000", Doc: "The maximum number of records the source task can read from the file each time it is polled", Validate: sdk.AtLeast(1)},
		},
		Open: openSource,
	}
}

func notEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// allowedFile checks a file key against the worker's ferry.allowed.paths:
// anyone who can reach the REST API can create a connector, and without
// the check could have the worker copy any file it can read, or append to
// any file it can write.
func allowedFile(v string) error {
	_, err := sdk.AllowedPath(v)
	return err
}

func oneTopic(v string) error {
	if strings.Contains(v, ",") {
		return errors.New("'topic' in FileStreamSourceConnector configuration requires definition of a single topic")
	}
	return notEmpty(v)
}

// linesBuffer is the size of the buffers lines are carved from, and
// maxPrealloc bounds the records allocated ahead of a batch.
const (
	linesBuffer = 64 << 10
	maxPrealloc = 4096
)

// idleWait is how long Poll waits at the end of the file before looking
// again; Poll returns empty-handed after maxIdle so the host stays in charge.
const (
	idleWait = 50 * time.Millisecond
	maxIdle  = time.Second
)

// source tails one file line by line. Unlike Kafka Connect's, it never
// reads standard input: a worker's stdin is not a plugin's to take. Its offset is the byte
// position just past the last line emitted, as Kafka Connect's.
type source struct {
	name      string
	partition map[string]any // {"filename": name}, shared by every record
	topic     string
	batchSize int
	in        io.ReadCloser
	r         *bufio.Reader
	position  int64  // byte offset of the next unread byte of the file
	partial   []byte // a line read without its terminator yet
	lines     []byte // lines read so far, which records' values share
	skipLF    bool   // the last line ended in \r: a following \n belongs to it
}

func openSource(ctx context.Context, cfg sdk.Config, offsets sdk.Offsets) (sdk.SourceTask, error) {
	s := &source{name: cfg.String("file"), topic: cfg.String("topic"), batchSize: cfg.Int("batch.size")}
	s.partition = map[string]any{"filename": s.name}
	// Checked again: a link may have changed since the config was.
	path, err := sdk.AllowedPath(s.name)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.name, err)
	}
	if off := offsets.Get(s.partition); off != nil {
		pos, ok := off["position"].(float64)
		if !ok {
			f.Close()
			return nil, fmt.Errorf("stored offset %v for %s has no numeric position", off, s.name)
		}
		if _, err := f.Seek(int64(pos), io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek %s to %d: %w", s.name, int64(pos), err)
		}
		s.position = int64(pos)
		sdk.Logger(ctx).Info("resuming", "file", s.name, "position", s.position)
	}
	s.in = f
	s.r = bufio.NewReaderSize(f, 64<<10)
	return s, nil
}

func (s *source) offset() map[string]any { return map[string]any{"position": s.position} }

// Poll returns up to batch.size complete lines; at the end of the file it
// waits for more, returning nothing after maxIdle.
func (s *source) Poll(ctx context.Context) ([]sdk.SourceRecord, error) {
	deadline := time.Now().Add(maxIdle)
	for {
		records, err := s.readLines()
		if len(records) > 0 || err != nil {
			return records, err
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(idleWait):
		}
	}
}

// readLines reads what is available now, up to batch.size lines.
func (s *source) readLines() ([]sdk.SourceRecord, error) {
	records := make([]sdk.SourceRecord, 0, min(s.batchSize, maxPrealloc))
	for len(records) < s.batchSize {
		chunk, err := s.r.ReadSlice('\n')
		if len(chunk) > 0 {
			records = s.consume(chunk, records)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			return records, nil
		}
		if err != nil {
			return records, fmt.Errorf("read %s: %w", s.name, err)
		}
	}
	return records, nil
}

// consume splits chunk on \n, \r and \r\n, as Kafka Connect's task does.
func (s *source) consume(chunk []byte, records []sdk.SourceRecord) []sdk.SourceRecord {
	for len(chunk) > 0 {
		if s.skipLF {
			s.skipLF = false
			if chunk[0] == '\n' {
				s.position++
				chunk = chunk[1:]
				s.setLastOffset(records)
				continue
			}
		}
		i := indexEOL(chunk)
		if i < 0 {
			s.partial = append(s.partial, chunk...)
			s.position += int64(len(chunk))
			return records
		}
		line := s.line(chunk[:i])
		s.position += int64(i + 1)
		s.skipLF = chunk[i] == '\r'
		chunk = chunk[i+1:]
		records = append(records, sdk.SourceRecord{
			Partition:   s.partition,
			Offset:      s.offset(),
			Topic:       s.topic,
			ValueSchema: sdk.StringSchema,
			Value:       line,
		})
	}
	return records
}

// setLastOffset moves the last record's offset past a \n that completed
// its \r\n terminator, so a restart does not read an empty line.
func (s *source) setLastOffset(records []sdk.SourceRecord) {
	if n := len(records); n > 0 {
		records[n-1].Offset = s.offset()
	}
}

// line returns the partial line read so far plus rest as a string, carved
// from the lines buffer: one allocation per ~64 KiB of lines instead of
// one per line.
func (s *source) line(rest []byte) string {
	n := len(s.partial) + len(rest)
	if cap(s.lines)-len(s.lines) < n {
		s.lines = make([]byte, 0, max(linesBuffer, n))
	}
	start := len(s.lines)
	s.lines = append(s.lines, s.partial...)
	s.lines = append(s.lines, rest...)
	s.partial = s.partial[:0]
	// The bytes are never written again: s.lines only grows past them, and
	// a new buffer replaces it when full.
	return unsafe.String(unsafe.SliceData(s.lines[start:]), n)
}

// indexEOL returns the index of the first \n or \r in b, or -1. Lines
// nearly always end in \n: two vectorised scans beat a loop over bytes.
func indexEOL(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	end := b
	if i >= 0 {
		end = b[:i]
	}
	if j := bytes.IndexByte(end, '\r'); j >= 0 {
		return j
	}
	return i
}

func (s *source) Close() error { return s.in.Close() }
