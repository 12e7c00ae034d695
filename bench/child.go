package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/sql"
	"github.com/eddy-streams/eddy/topology"
)

// ChildConfig is what a child process runs: one pipeline on one engine (franz-go or
// eddy; Kafka Streams runs in its own jar).
type ChildConfig struct {
	Engine    Engine
	Pipeline  Pipeline
	Guarantee Guarantee
	Brokers   []string
	Input     string
	// Side is the join pipelines' second topic: the join's table, the windowed join's
	// right stream.
	Side   string
	Output string
	// JoinWindow is the windowed join's time difference, either way.
	JoinWindow  time.Duration
	AppID       string // application id, consumer group and transactional id prefix
	Workers     int
	Commit      time.Duration
	StateDir    string
	Compression string
	LogLevel    slog.Level // eddy's logs, to stderr (the run's log file)
}

// startedLine is what a child prints on its first record: "started <unix nanos>".
const startedLine = "started"

// starter prints the started line once, on the first record any worker sees.
type starter struct {
	once atomic.Bool
	out  io.Writer
}

func (s *starter) mark() {
	if !s.once.Load() && s.once.CompareAndSwap(false, true) {
		fmt.Fprintf(s.out, "%s %d\n", startedLine, time.Now().UnixNano())
	}
}

// RunChild runs c's pipeline until ctx ends, printing the started line to stdout on the
// first record.
func RunChild(ctx context.Context, c ChildConfig, stdout io.Writer) error {
	st := &starter{out: stdout}
	switch c.Engine {
	case FranzGo:
		if c.Pipeline != Raw {
			return fmt.Errorf("bench: franz-go runs the raw pipeline only, not %q", c.Pipeline)
		}
		return runRaw(ctx, c, st)
	case Eddy:
		if (c.Pipeline == Join || c.Pipeline == WindowedJoin) && c.Side == "" {
			return fmt.Errorf("bench: pipeline %q needs its second topic (-side)", c.Pipeline)
		}
		return runEddy(ctx, c, st)
	default:
		return fmt.Errorf("bench: a child runs franz-go or eddy, not %q", c.Engine)
	}
}

// EddyTopology is the eddy topology of c's pipeline from its input (and side) to its
// output, calling mark on every record as it enters from a stream.
func EddyTopology(c ChildConfig, mark func()) (*topology.Topology, error) {
	p, output := c.Pipeline, c.Output
	t := topology.New()
	source := func(topic string) topology.Stream[string, []byte] {
		return topology.From(t, topic, serde.String(), serde.Bytes(), topology.OutOfOrderness(0)).
			Peek(func(string, []byte) { mark() })
	}
	var in topology.Stream[string, []byte]
	if p != CountAvro && p != SQLWindowed { // they read their input their own way
		in = source(c.Input)
	}
	switch p {
	case Stateless:
		kept := in.Filter(func(_ string, v []byte) bool { return Keep(v) })
		topology.To(topology.MapValues(kept, Upper), output, serde.String(), serde.Bytes())
	case Count:
		counts := topology.Count(topology.GroupByKey(in, serde.String(), serde.Bytes()), "counts")
		topology.To(counts.ToStream(), output, serde.String(), serde.Int64())
	case CountAvro:
		values, err := AvroValues()
		if err != nil {
			return nil, err
		}
		avro := topology.From(t, c.Input, serde.String(), values, topology.OutOfOrderness(0)).
			Peek(func(string, AvroValue) { mark() })
		counts := topology.Count(topology.GroupByKey(avro, serde.String(), values), "counts")
		topology.To(counts.ToStream(), output, serde.String(), serde.Int64())
	case Windowed:
		grouped := topology.GroupByKey(in, serde.String(), serde.Bytes())
		counts := topology.WindowedCount(topology.WindowBy(grouped, topology.TumblingWindows(time.Second)), "wcounts")
		topology.To(counts, output, topology.WindowedSerde(serde.String()), serde.Int64())
	case SQLWindowed:
		return sqlWindowed(c)
	case Join:
		table := topology.TableFrom(t, c.Side, serde.String(), serde.Bytes(), "profiles")
		enriched := topology.LeftJoinTable(in, table, serde.String(), serde.Bytes(),
			func(_ string, v, tv []byte, found bool) []byte { return Enrich(v, tv, found) })
		topology.To(enriched, output, serde.String(), serde.Bytes())
	case WindowedJoin:
		paired := topology.JoinStreams(in, source(c.Side), topology.JoinWindowsOf(c.JoinWindow),
			serde.String(), serde.Bytes(), serde.Bytes(), func(_ string, l, r []byte) []byte { return Pair(l, r) })
		topology.To(paired, output, serde.String(), serde.Bytes())
	default:
		return nil, fmt.Errorf("bench: eddy has no %q pipeline", p)
	}
	return t, t.Err()
}

// sqlWindowed is the Windowed pipeline's topology compiled from SQL.
func sqlWindowed(c ChildConfig) (*topology.Topology, error) {
	res, err := sql.NewSession().Exec(fmt.Sprintf(`
	  CREATE TABLE input (k STRING, v BYTES, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', WATERMARK FOR ts AS ts)
	    WITH ('connector' = 'kafka', 'topic' = '%s', 'key.format' = 'raw', 'key.fields' = 'k', 'value.format' = 'raw',
	      'value.fields-include' = 'EXCEPT_KEY');
	  CREATE TABLE output (k STRING, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT)
	    WITH ('connector' = 'kafka', 'topic' = '%s', 'key.format' = 'raw', 'key.fields' = 'k', 'value.format' = 'json');
	  INSERT INTO output SELECT k, window_start, window_end, COUNT(*)
	    FROM TABLE(TUMBLE(TABLE input, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end`, c.Input, c.Output))
	if err != nil {
		return nil, err
	}
	return res[len(res)-1].Job.Topology(), nil
}

func runEddy(ctx context.Context, c ChildConfig, st *starter) error {
	t, err := EddyTopology(c, st.mark)
	if err != nil {
		return err
	}
	clientOpts := []kgo.Opt{kgo.ProducerBatchCompression(compression(c.Compression))}
	if c.Pipeline == SQLWindowed {
		// SQL's topology has no Peek to mark the first record: the first fetch does.
		clientOpts = append(clientOpts, kgo.WithHooks(fetchMark(st.mark)))
	}
	opts := []eddy.Opt{
		eddy.ApplicationID(c.AppID), eddy.Brokers(c.Brokers...), eddy.Workers(c.Workers),
		eddy.CommitInterval(c.Commit), eddy.StateDir(c.StateDir),
		eddy.ClientOpts(clientOpts...),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))),
	}
	if c.Guarantee == EOS {
		opts = append(opts, eddy.ExactlyOnce())
	}
	app, err := eddy.New(t, opts...)
	if err != nil {
		return err
	}
	defer app.Close()
	return app.Run(ctx)
}

// runRaw is the ceiling: Workers group consumers, each piping every record it fetches to
// the output unchanged (same key, value and timestamp), committing every Commit: under
// at-least-once after flushing the producer, under exactly-once in a transaction with the
// consumed offsets (franz-go's GroupTransactSession).
func runRaw(ctx context.Context, c ChildConfig, st *starter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, c.Workers)
	for i := range c.Workers {
		wg.Go(func() {
			if c.Guarantee == EOS {
				errs[i] = rawEOS(ctx, c, i, st)
			} else {
				errs[i] = rawALOS(ctx, c, st)
			}
			if errs[i] != nil {
				cancel() // one failed pipe fails the run
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func rawOpts(c ChildConfig) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...), kgo.ConsumerGroup(c.AppID), kgo.ConsumeTopics(c.Input),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.ProducerBatchCompression(compression(c.Compression)),
		kgo.ProducerLinger(5 * time.Millisecond), // eddy's
		kgo.FetchMaxWait(500 * time.Millisecond), // eddy's and Java's
	}
}

// pipeRecord is the raw pipe's output for r.
func pipeRecord(out string, r *kgo.Record) *kgo.Record {
	return &kgo.Record{Topic: out, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
}

// produceErr keeps the first produce error of a pipe.
type produceErr struct {
	mu  sync.Mutex
	err error
}

func (p *produceErr) promise(_ *kgo.Record, err error) {
	if err != nil {
		p.mu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
	}
}

func (p *produceErr) get() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func rawALOS(ctx context.Context, c ChildConfig, st *starter) error {
	var perr produceErr
	opts := append(rawOpts(c), kgo.BlockRebalanceOnPoll(),
		// A revoked partition's output is flushed and its offsets committed before it
		// goes, so the next owner starts after what was written.
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
			if cl.Flush(ctx) == nil && perr.get() == nil {
				_ = cl.CommitUncommittedOffsets(ctx)
			}
		}))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("bench: raw pipe client: %w", err)
	}
	defer cl.Close()
	next := time.Now().Add(c.Commit)
	for ctx.Err() == nil {
		pctx, cancel := context.WithDeadline(ctx, next)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := fetchErr(fs); err != nil {
			return err
		}
		fs.EachRecord(func(r *kgo.Record) {
			st.mark()
			cl.Produce(ctx, pipeRecord(c.Output, r), perr.promise)
		})
		cl.AllowRebalance()
		if time.Now().After(next) {
			if err := cl.Flush(ctx); err != nil {
				return nil // ctx ended
			}
			if err := perr.get(); err != nil {
				return fmt.Errorf("bench: raw pipe produce: %w", err)
			}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				return fmt.Errorf("bench: raw pipe commit: %w", err)
			}
			next = time.Now().Add(c.Commit)
		}
	}
	return nil
}

func rawEOS(ctx context.Context, c ChildConfig, worker int, st *starter) error {
	var perr produceErr
	opts := append(rawOpts(c), kgo.TransactionalID(fmt.Sprintf("%s-%d", c.AppID, worker)),
		kgo.TransactionTimeout(10*time.Second), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("bench: raw pipe session: %w", err)
	}
	defer sess.Close()
	inTxn := false
	next := time.Now().Add(c.Commit)
	for ctx.Err() == nil {
		pctx, cancel := context.WithDeadline(ctx, next)
		fs := sess.PollFetches(pctx)
		cancel()
		if err := fetchErr(fs); err != nil {
			return err
		}
		if !fs.Empty() && !inTxn {
			if err := sess.Begin(); err != nil {
				return fmt.Errorf("bench: raw pipe begin: %w", err)
			}
			inTxn = true
		}
		fs.EachRecord(func(r *kgo.Record) {
			st.mark()
			sess.Produce(ctx, pipeRecord(c.Output, r), perr.promise)
		})
		if inTxn && time.Now().After(next) {
			// A produce error makes End abort; the session rewinds to the last commit.
			if _, err := sess.End(ctx, kgo.TryCommit); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("bench: raw pipe commit: %w", err)
			}
			inTxn = false
			if err := perr.get(); err != nil {
				return fmt.Errorf("bench: raw pipe produce: %w", err)
			}
		}
		if time.Now().After(next) {
			next = time.Now().Add(c.Commit)
		}
	}
	return nil
}

// fetchErr returns the first fetch error that is not the end of a poll's deadline.
func fetchErr(fs kgo.Fetches) error {
	for _, e := range fs.Errors() {
		if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, kgo.ErrClientClosed) {
			continue
		}
		return fmt.Errorf("bench: fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
	}
	return nil
}

// fetchMark is a client hook that calls mark on every fetched record (mark acts once).
type fetchMark func()

func (m fetchMark) OnFetchRecordUnbuffered(*kgo.Record, bool) { m() }
