// Command bench measures Ferry against the machine's ceiling and against
// Apache Kafka Connect, on one broker, in one run, and writes the table to
// docs/benchmarks.md. Run it with `make bench` (Apache Kafka) or
// `make bench BENCH_BROKER=embedded`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/ferry-connect/ferry/host/broker"
	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/worker"
	"github.com/ferry-connect/ferry/sdk/go/gcfloor"
)

type options struct {
	records   int
	runs      int
	bootstrap string // "" = start the embedded broker in this process
	embedded  bool   // the embedded broker runs
	brokerDoc string
	binDir    string
	connect   string // Kafka Connect lib dir; "" skips it
	out       string
	work      string
	flushMS   int
	only      map[string]bool // measurement groups to run; empty runs all
	prefix    string          // of every topic this run writes, deleted at its end
}

// wants says whether the measurement group runs (the ceiling always does:
// every ratio needs it).
func (o options) wants(group string) bool { return len(o.only) == 0 || o.only[group] }

func main() {
	var o options
	flag.IntVar(&o.records, "n", 1_000_000, "records per measurement")
	flag.IntVar(&o.runs, "runs", 3, "runs per figure (the median is reported)")
	flag.StringVar(&o.bootstrap, "bootstrap", "", "broker to use; empty starts the embedded one")
	flag.StringVar(&o.binDir, "bin", "bin", "directory with ferry and plugins/")
	flag.StringVar(&o.connect, "connect", "", "Apache Kafka Connect lib directory (scripts/bench/kafka-connect fetches it); empty skips Kafka Connect")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "Markdown report")
	flag.IntVar(&o.flushMS, "flush-ms", 100, "offset.flush.interval.ms of the measured workers (both Ferry and Kafka Connect); progress is seen at this granularity")
	only := flag.String("only", "", "comma-separated groups to measure besides the ceiling: source, sink, boundary, file, distributed, cluster (default all); the report then holds only those")
	flag.Parse()
	if *only != "" {
		o.only = map[string]bool{}
		for _, g := range strings.Split(*only, ",") {
			o.only[strings.TrimSpace(g)] = true
		}
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	work, err := os.MkdirTemp("", "ferry-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	o.work = work
	o.prefix = fmt.Sprintf("bench-%d-", time.Now().UnixNano()%1e6)
	o.brokerDoc = "Apache Kafka at " + o.bootstrap
	if o.bootstrap == "" {
		b, err := broker.Start(filepath.Join(work, "broker"), 0)
		if err != nil {
			return err
		}
		defer b.Close()
		o.bootstrap, o.embedded = b.Addr(), true
		o.brokerDoc = "embedded broker (kfake, in the harness process)"
	} else {
		// A long-lived broker would keep every run's gigabytes.
		defer deleteTopics(o)
	}
	// The ceiling's clients run under the worker's GC floor too: with Go's
	// default GC, collections take a share of its CPU that the worker
	// does not pay.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go gcfloor.Run(ctx, worker.GCFloor)
	var rep report
	rep.opts = o
	// Warm the broker up (a JVM's JIT, the page cache) before anything counts.
	warm := o
	warm.records = min(o.records, 200_000)
	if _, err := ceilingProduce(warm, o.topic("warm-up", 100, 0), 100); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for _, size := range []int{100, 1024} {
		p, err := medianOf(o.runs, func(i int) (result, error) { return ceilingProduce(o, o.ceilingTopic(size, i), size) })
		if err != nil {
			return fmt.Errorf("ceiling produce: %w", err)
		}
		rep.add(fmt.Sprintf("librdkafka produce, %d B", size), p)
		c, err := medianOf(o.runs, func(i int) (result, error) { return ceilingConsume(o, o.ceilingTopic(size, i), size) })
		if err != nil {
			return fmt.Errorf("ceiling consume: %w", err)
		}
		rep.add(fmt.Sprintf("librdkafka consume, %d B", size), c)
	}
	// Each target's ratio is taken run by run from a ceiling run and a
	// pipeline run made back to back, so the machine's drift over the
	// whole benchmark does not move it.
	if o.wants("source") {
		c, src, ratios, err := pairs(o.runs,
			func(i int) (result, error) { return ceilingProduce(o, o.topic("paired", 100, i), 100) },
			func(i int) (result, error) { return sourcePipeline(o, byteArray, 100, i) })
		if err != nil {
			return fmt.Errorf("source pipeline: %w", err)
		}
		rep.add("librdkafka produce, 100 B (paired with the source pipeline)", c)
		rep.add("Ferry source: BenchSource → ByteArrayConverter → Kafka, 100 B", src)
		rep.ratio("source pipeline / raw produce (100 B, ByteArray)", ratios, 0.8)
		c, bound, ratios, err := pairs(o.runs,
			func(i int) (result, error) { return ceilingProduce(o, o.topic("paired-bound", 100, i), 100) },
			func(i int) (result, error) { return sourceBound(o, o.topic("bound", 100, i), 100) })
		if err != nil {
			return fmt.Errorf("source bound: %w", err)
		}
		rep.add("librdkafka produce, 100 B (paired with the source bound)", c)
		rep.add("source bound: BenchSource → plugin boundary → raw produce (no decoding, conversion or offsets), 100 B", bound)
		rep.ratio("source bound / raw produce (100 B): the most a source worker could reach here", ratios, 0)
	}
	if o.wants("sink") {
		sink := func(toFile bool) func(int) (result, error) {
			return func(i int) (result, error) { return sinkPipeline(o, byteArray, o.ceilingTopic(100, i), 100, toFile) }
		}
		c, snk, ratios, err := pairs(o.runs, func(i int) (result, error) { return ceilingConsume(o, o.ceilingTopic(100, i), 100) }, sink(false))
		if err != nil {
			return fmt.Errorf("sink pipeline: %w", err)
		}
		rep.add("librdkafka consume, 100 B (paired with the sink pipeline)", c)
		rep.add("Ferry sink: Kafka → ByteArrayConverter → BenchSink (discard), 100 B", snk)
		rep.ratio("sink pipeline / raw consume (100 B, ByteArray)", ratios, 0.8)
		c, bound, ratios, err := pairs(o.runs, func(i int) (result, error) { return ceilingConsume(o, o.ceilingTopic(100, i), 100) },
			func(i int) (result, error) { return sinkBound(o, o.ceilingTopic(100, i), 100) })
		if err != nil {
			return fmt.Errorf("sink bound: %w", err)
		}
		rep.add("librdkafka consume, 100 B (paired with the sink bound)", c)
		rep.add("sink bound: raw consume → plugin boundary → BenchSink (no conversion, offsets or flushes), 100 B", bound)
		rep.ratio("sink bound / raw consume (100 B): the most a sink worker could reach here", ratios, 0)
		toFile, err := medianOf(o.runs, sink(true))
		if err != nil {
			return fmt.Errorf("sink pipeline to a file: %w", err)
		}
		rep.add("Ferry sink: Kafka → ByteArrayConverter → FileStreamSink, 100 B", toFile)
	}
	input, err := writeInput(o, 100)
	if err != nil {
		return err
	}
	if o.wants("boundary") {
		b, err := medianOf(o.runs, func(int) (result, error) { return boundary(o, input) })
		if err != nil {
			return fmt.Errorf("plugin boundary: %w", err)
		}
		rep.add("plugin boundary: file source → host, batch 2000", b)
	}
	for _, conv := range converters {
		if !o.wants("file") {
			break
		}
		run := func(start runner) func(int) (result, error) {
			return func(i int) (result, error) { return fileToFile(o, start, conv, input, 100, i) }
		}
		if o.connect == "" {
			f, err := medianOf(o.runs, run(ferryRunner))
			if err != nil {
				return fmt.Errorf("ferry file→file %s: %w", conv.name, err)
			}
			rep.add("Ferry file → Kafka → file, "+conv.name, f)
			continue
		}
		k, f, ratios, err := pairs(o.runs, run(connectRunner), run(ferryRunner))
		if err != nil {
			return fmt.Errorf("file→file %s: %w", conv.name, err)
		}
		rep.add("Ferry file → Kafka → file, "+conv.name, f)
		rep.add("Kafka Connect file → Kafka → file, "+conv.name, k)
		rep.compare(conv.name, f, k)
		rep.ratio("file → file records/s, Ferry / Kafka Connect, "+conv.name, ratios, 2)
	}
	if o.wants("distributed") {
		// One distributed worker against one standalone worker, the same
		// pipeline: what the internal topics and the group cost.
		conv := converters[0]
		run := func(start runner) func(int) (result, error) {
			return func(i int) (result, error) { return fileToFile(o, start, conv, input, 100, i) }
		}
		s, d, ratios, err := pairs(o.runs, run(ferryRunner), run(ferryDistributedRunner))
		if err != nil {
			return fmt.Errorf("distributed file→file: %w", err)
		}
		rep.add("Ferry standalone file → Kafka → file, "+conv.name, s)
		rep.add("Ferry distributed (one worker) file → Kafka → file, "+conv.name, d)
		rep.ratio("file → file records/s, distributed / standalone, "+conv.name, ratios, 0.9)
	}
	// Kafka Connect's distributed workers do not start on the embedded
	// broker (kfake): the cluster times need Apache Kafka.
	if o.wants("cluster") && o.connect != "" && !o.embedded {
		for _, m := range []struct {
			name    string
			measure func(options, kind, int) (time.Duration, error)
		}{
			{"failover: kill -9 of the worker running a source → its next record in Kafka (2 workers)", failover},
			{"rebalance on join: a 2nd worker starts → the 6 one-task sources all RUNNING, some on it", joinRebalance},
		} {
			var ferry, kc []time.Duration
			for i := range o.runs {
				// Alternate which goes first, as the other pairs do.
				order := []kind{connectKind, ferryKind}
				if i%2 == 1 {
					order = []kind{ferryKind, connectKind}
				}
				for _, k := range order {
					d, err := m.measure(o, k, i)
					if err != nil {
						return fmt.Errorf("%s: %w", m.name, err)
					}
					fmt.Fprintf(os.Stderr, "  %s %s run %d: %s\n", m.name, k.name, i+1, d.Round(time.Millisecond))
					if k.name == ferryKind.name {
						ferry = append(ferry, d)
					} else {
						kc = append(kc, d)
					}
				}
			}
			rep.timing(m.name, ferry, kc)
		}
	}
	md := rep.markdown()
	fmt.Print(md)
	return os.WriteFile(o.out, []byte(md), 0o644)
}

// result is one measurement.
type result struct {
	Records int
	Bytes   int64
	Elapsed time.Duration // steady state: first record to last
	Wall    time.Duration // process start to last record (pipelines only)
	Usage   usage         // the measured processes (pipelines only)
}

func (r result) rate() float64 { return float64(r.Records) / r.Elapsed.Seconds() }

// medianOf runs f n times and returns the run with the median rate.
func medianOf(n int, f func(i int) (result, error)) (result, error) {
	var rs []result
	for i := 0; i < n; i++ {
		r, err := f(i)
		if err != nil {
			return result{}, err
		}
		fmt.Fprintf(os.Stderr, "  run %d: %.0f rec/s\n", i+1, r.rate())
		rs = append(rs, r)
	}
	return median(rs), nil
}

// pairs runs base and measured back to back n times and returns the median
// run of each and every run's rate ratio measured/base. Which of the two
// goes first alternates, so that what one run leaves behind (a broker
// still cleaning up, a warm page cache) does not always favour the same side.
func pairs(n int, base, measured func(i int) (result, error)) (result, result, []float64, error) {
	var bs, ms []result
	var ratios []float64
	for i := 0; i < n; i++ {
		var b, m result
		var err error
		if i%2 == 0 {
			if b, err = base(i); err == nil {
				m, err = measured(i)
			}
		} else if m, err = measured(i); err == nil {
			b, err = base(i)
		}
		if err != nil {
			return result{}, result{}, nil, err
		}
		fmt.Fprintf(os.Stderr, "  run %d: %.0f / %.0f rec/s = %.2f\n", i+1, m.rate(), b.rate(), m.rate()/b.rate())
		bs, ms, ratios = append(bs, b), append(ms, m), append(ratios, m.rate()/b.rate())
	}
	return median(bs), median(ms), ratios, nil
}

// median is the run with the median rate (it sorts rs).
func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].rate() < rs[j].rate() })
	return rs[len(rs)/2]
}

// ceilingTopic is the topic the ceiling run writes for size and run, which
// the consume ceiling and the sink pipeline read back.
func (o options) ceilingTopic(size, run int) string {
	return fmt.Sprintf("%sceiling-%d-%d", o.prefix, size, run)
}

// deleteTopics deletes the topics this run wrote; a failure is only
// reported.
func deleteTopics(o options) {
	admin, err := ck.NewAdminClient(&ck.ConfigMap{"bootstrap.servers": o.bootstrap})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: delete topics:", err)
		return
	}
	defer admin.Close()
	md, err := admin.GetMetadata(nil, true, 10_000)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: delete topics:", err)
		return
	}
	var topics []string
	for name := range md.Topics {
		if strings.HasPrefix(name, o.prefix) {
			topics = append(topics, name)
		}
	}
	if len(topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := admin.DeleteTopics(ctx, topics)
	if err == nil {
		for _, r := range res {
			if r.Error.Code() != ck.ErrNoError {
				err = r.Error
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: delete topics %s*: %v\n", o.prefix, err)
	}
}

// topic names a new topic for a measurement.
func (o options) topic(kind string, size, run int) string {
	return fmt.Sprintf("%s%s-%d-%d-%d", o.prefix, kind, size, run, time.Now().UnixNano()%1e6)
}

// ceilingProduce produces records with Ferry's own producer settings and
// waits for every delivery report.
func ceilingProduce(o options, topic string, size int) (result, error) {
	return produce(o, topic, size, func() (int, error) { return o.records, nil })
}

// produce produces o.records records of size bytes to topic, as many at a
// time as next says, and waits for every delivery report. Its CPU is the
// harness process's own.
func produce(o options, topic string, size int, next func() (int, error)) (result, error) {
	p, err := kafka.NewProducer(o.bootstrap, "bench-producer", nil)
	if err != nil {
		return result{}, err
	}
	if err := p.EnsureTopic(context.Background(), topic); err != nil {
		return result{}, err
	}
	value := make([]byte, size)
	cpu := selfCPU()
	start := time.Now()
	acked := 0
	for i := 0; i < o.records; {
		n, err := next()
		if err != nil {
			return result{}, err
		}
		for end := min(i+n, o.records); i < end; {
			err := p.Produce(topic, 0, nil, value, nil, time.Time{})
			if err == kafka.ErrQueueFull {
				k, err := acks(<-p.Deliveries())
				if err != nil {
					return result{}, err
				}
				acked += k
				continue
			}
			if err != nil {
				return result{}, err
			}
			i++
		}
	}
	for acked < o.records {
		n, err := acks(<-p.Deliveries())
		if err != nil {
			return result{}, err
		}
		acked += n
	}
	elapsed := time.Since(start)
	used := selfCPU() - cpu
	p.CloseDiscarding(5 * time.Second)
	return result{Records: o.records, Bytes: int64(o.records * size), Elapsed: elapsed, Usage: usage{CPU: used}}, nil
}

// acks counts the records a batch of delivery reports covers, or returns
// its first failure.
func acks(ds []kafka.Delivery) (int, error) {
	n := 0
	for _, d := range ds {
		if d.Err != nil {
			return 0, d.Err
		}
		n += d.Count
	}
	return n, nil
}

// ceilingConsume reads back a topic ceilingProduce wrote, with Ferry's
// consumer settings.
func ceilingConsume(o options, topic string, size int) (result, error) {
	return consume(o, topic, size, nil, nil)
}

// consume reads o.records records of size bytes from topic, handing each
// to each (if not nil), and then calls end (if not nil). Time and CPU (the
// harness process's own) run from the first record to end's return.
func consume(o options, topic string, size int, each func(*kafka.Message) error, end func() error) (result, error) {
	c, err := kafka.NewConsumer(o.bootstrap, fmt.Sprintf("bench-%s-%d", topic, time.Now().UnixNano()), "bench-consumer", nil)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	if err := c.Subscribe([]string{topic}, nil); err != nil {
		return result{}, err
	}
	var start time.Time
	var cpu float64
	n := 0
	deadline := time.Now().Add(5 * time.Minute)
	for n < o.records {
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("consumed %d of %d records", n, o.records)
		}
		m, err := c.Poll(100 * time.Millisecond)
		if err != nil {
			return result{}, err
		}
		if m == nil {
			continue
		}
		if n == 0 {
			start, cpu = time.Now(), selfCPU()
		}
		if each != nil {
			if err := each(m); err != nil {
				return result{}, err
			}
		}
		n++
	}
	if end != nil {
		if err := end(); err != nil {
			return result{}, err
		}
	}
	return result{Records: n, Bytes: int64(n * size), Elapsed: time.Since(start), Usage: usage{CPU: selfCPU() - cpu}}, nil
}

// writeInput writes o.records lines of size bytes (newline included).
func writeInput(o options, size int) (string, error) {
	path := filepath.Join(o.work, "input.txt")
	var b strings.Builder
	pad := strings.Repeat("x", size-14)
	for i := 0; i < o.records; i++ {
		fmt.Fprintf(&b, "line-%07d-%s\n", i, pad)
	}
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}
