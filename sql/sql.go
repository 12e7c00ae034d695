// Package sql runs Flink SQL on eddy: statements that map Kafka topics to tables and
// queries over them, compiled to an eddy topology, so that a SQL-defined job has what any
// eddy application has — exactly-once, local state with changelogs, event-time
// watermarks, and scale-out by starting more copies.
//
//	s := sql.NewSession()
//	_, err := s.Exec(`
//	  CREATE TABLE clicks (user_id STRING, url STRING, ts TIMESTAMP(3),
//	    WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
//	  WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');
//	  CREATE TABLE counts (user_id STRING, n BIGINT, PRIMARY KEY (user_id) NOT ENFORCED)
//	  WITH ('connector' = 'upsert-kafka', 'topic' = 'counts', 'key.format' = 'raw', 'value.format' = 'json');`)
//	…
//	res, err := s.Exec("INSERT INTO counts SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id")
//	job := res[0].Job
//	app, err := eddy.New(job.Topology(), append(job.Options(), eddy.Brokers(brokers...), eddy.ExactlyOnce())...)
//
// or job.Run(ctx, eddy.Brokers(brokers...)), which also creates missing topics and
// fills datagen tables. The language, its changelog semantics (+I, -U, +U, -D), and what
// is and is not supported are in the README's SQL section; cmd/eddy's `eddy sql` is the
// shell over this package.
package sql

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/bridge"
	"github.com/eddy-streams/eddy/internal/sqlparse"
	"github.com/eddy-streams/eddy/internal/sqlplan"
	"github.com/eddy-streams/eddy/topology"
)

// Session holds the tables and settings that statements create and change, as a Flink
// SQL session does. It is not safe for concurrent use.
type Session struct {
	s *sqlplan.Session
}

// NewSession is a session with no tables and Flink's default settings (streaming).
func NewSession() *Session { return &Session{s: sqlplan.NewSession()} }

// Result is what one statement gave: a message, rows (SHOW TABLES, DESCRIBE, SET), or a
// job to run (INSERT INTO, a statement set, a query).
type Result struct {
	// Statement is the statement, as canonical SQL.
	Statement string
	Message   string
	// Header and Rows are the statement's table of text, when it answers with one.
	Header []string
	Rows   [][]string
	Job    *Job
}

// Exec runs the statements of text (separated by semicolons) in order, and returns what
// each gave. It stops at the first that fails: the error says where (line and column of
// text) and what was wrong; the results before it are returned with it. Exec plans jobs;
// it runs none.
func (s *Session) Exec(text string) ([]*Result, error) {
	var out []*Result
	err := s.ExecEach(text, func(r *Result) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// ExecEach is Exec calling each with each statement's result as it comes, before the
// next statement runs (a shell runs a query's job there); an error from each stops it.
// A syntax error anywhere in text stops it before the first statement.
func (s *Session) ExecEach(text string, each func(*Result) error) error {
	sts, err := sqlparse.Parse(text)
	if err != nil {
		return err
	}
	for _, st := range sts {
		r, err := s.s.Exec(st)
		if err != nil {
			return err
		}
		res := &Result{Statement: st.String(), Message: r.Message}
		if len(r.Rows) > 0 {
			res.Header, res.Rows = r.Rows[0], r.Rows[1:]
		}
		if r.Job != nil {
			res.Job = newJob(r.Job, st)
		}
		if err := each(res); err != nil {
			return err
		}
	}
	return nil
}

// Setting is the value of a session setting (SET 'key' = 'value'), and whether it is set.
func (s *Session) Setting(key string) (string, bool) {
	v, ok := s.s.Settings[key]
	return v, ok
}

// Tables are the names of the session's tables, sorted.
func (s *Session) Tables() []string { return s.s.Catalog.Tables() }

// RowKind is what a change does to a query's result, as Flink's RowKind.
type RowKind uint8

// The row kinds: +I inserts a row, -U retracts a row that an update replaces, +U is the
// row that replaces it, -D deletes a row.
const (
	Insert       = RowKind(sqlplan.Insert)
	UpdateBefore = RowKind(sqlplan.UpdateBefore)
	UpdateAfter  = RowKind(sqlplan.UpdateAfter)
	Delete       = RowKind(sqlplan.Delete)
)

func (k RowKind) String() string { return sqlplan.RowKind(k).String() }

// Row is one change of a query's result: its kind and its values — bool, int32 (INT),
// int64 (BIGINT), float64 (DOUBLE), string (STRING), []byte (BYTES), time.Time
// (TIMESTAMP, TIMESTAMP_LTZ; in UTC), or nil for NULL.
type Row struct {
	Kind   RowKind
	Values []any
}

// String writes the row as Flink prints one: +I[u1, 3].
func (r Row) String() string {
	return sqlplan.Change{Kind: sqlplan.RowKind(r.Kind), Row: r.Values}.String()
}

// FormatValue writes a result value as the shell shows it (NULL as <NULL>, timestamps as
// 2026-12-03 10:42:17.123).
func FormatValue(v any) string { return sqlplan.FormatValue(v) }

// Column is a result column: its name and its SQL type (BIGINT NOT NULL, TIMESTAMP(3)).
type Column struct {
	Name, Type string
}

// Job is a planned job: INSERT INTO statements (a statement set's, or one) or a query.
type Job struct {
	j  *sqlplan.Job
	id string
}

func newJob(j *sqlplan.Job, st sqlparse.Statement) *Job {
	id := j.GroupID
	if id == "" {
		if _, query := st.(*sqlparse.QueryStatement); query || j.Bounded {
			// A query, or a batch job, reads its tables from the start each time.
			id = "eddy-sql-" + nonce()
		} else {
			// A continuous INSERT job: the same statement resumes where it stopped.
			sum := sha256.Sum256([]byte(st.String()))
			id = "eddy-sql-" + hex.EncodeToString(sum[:6])
		}
	}
	return &Job{j: j, id: id}
}

// Topology is the job's compiled topology, for eddy.New.
func (j *Job) Topology() *topology.Topology { return j.j.Topology }

// ApplicationID is the job's application id (its consumer group, and the prefix of its
// internal topics): the source table's 'properties.group.id' when it has one; else, for a
// continuous INSERT job, one made from the statement's text, so that the same statement
// resumes where it stopped; else (a query, a batch job) a new one each time.
func (j *Job) ApplicationID() string { return j.id }

// Options are the eddy options the job needs: its application id, its brokers when its
// tables give 'properties.bootstrap.servers', eddy.Bounded in batch mode, and for INSERT
// jobs eddy.ExactlyOnce (unless SET 'execution.checkpointing.mode' = 'AT_LEAST_ONCE'),
// so that a job killed and started again resumes its state exactly. Options given after
// them win.
func (j *Job) Options() []eddy.Opt {
	opts := []eddy.Opt{eddy.ApplicationID(j.id)}
	if len(j.j.Brokers) > 0 {
		opts = append(opts, eddy.Brokers(j.j.Brokers...))
	}
	if j.j.Bounded {
		opts = append(opts, eddy.Bounded())
	}
	if j.j.ExactlyOnce {
		opts = append(opts, eddy.ExactlyOnce())
	}
	return opts
}

// Bounded reports whether the job was planned in batch mode: it reads what its topics
// hold when it starts, reports its final result, and stops.
func (j *Job) Bounded() bool { return j.j.Bounded }

// Sources and Sinks are the topics the job reads and writes.
func (j *Job) Sources() []string { return j.j.Sources }

// Sinks are the topics the job writes.
func (j *Job) Sinks() []string { return j.j.Sinks }

// Columns are a query's result columns (nil for INSERT jobs).
func (j *Job) Columns() []Column {
	var cols []Column
	for i, n := range j.j.Columns {
		cols = append(cols, Column{Name: n, Type: j.j.Types[i].String()})
	}
	return cols
}

// Updating reports whether a query's result updates its rows (-U, +U, -D), as a regular
// aggregation's does, rather than only growing (+I).
func (j *Job) Updating() bool { return j.j.Updating }

// OnResult sets the function a query's result rows go to; call it before the job runs.
// The job's tasks call it, each from its own goroutine, so it must be safe for concurrent
// use; one key's changes come in order. It sees results as the job makes them: a job that
// fails and is replayed may show a change again.
func (j *Job) OnResult(f func(Row)) {
	j.j.OnResult(func(c sqlplan.Change) { f(Row{Kind: RowKind(c.Kind), Values: c.Row}) })
}

// Run runs the job until ctx ends or, in batch mode, until its result is complete. opts
// come after the job's Options (eddy.Brokers is needed unless the tables name their
// brokers). Before it starts, Run creates the job's topics that do not exist (with the
// broker's default partition count) and each datagen table's topic; while it runs, the
// datagen tables' generators fill those — in batch mode, fully before the job starts.
// When it returns, it deletes the datagen topics.
func (j *Job) Run(ctx context.Context, opts ...eddy.Opt) error {
	all, client, err := j.client(opts)
	if err != nil {
		return err
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	if err := j.prepare(ctx, adm); err != nil {
		return err
	}
	defer j.deleteGenerated(adm)
	app, err := eddy.New(j.Topology(), all...)
	if err != nil {
		return err
	}
	if j.j.Bounded {
		for _, g := range j.j.Generators {
			if err := generate(ctx, client, g, false); err != nil {
				return err
			}
		}
		return app.Run(ctx)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	genErr := make(chan error, len(j.j.Generators))
	for _, g := range j.j.Generators {
		wg.Go(func() {
			if err := generate(runCtx, client, g, true); err != nil && runCtx.Err() == nil {
				genErr <- err
				cancel()
			}
		})
	}
	err = app.Run(runCtx)
	cancel()
	wg.Wait()
	select {
	case gerr := <-genErr:
		return gerr
	default:
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Prepare readies the brokers for the job without running it, for a service that runs its
// topology with eddy.New: it creates the job's missing topics, and for a new group (no
// offsets committed on a topic) commits where the tables' 'scan.startup.mode'
// latest-offset or timestamp say it starts. Run does it itself; eddy.New alone starts a
// new group at the earliest offsets. opts are as Run's (the brokers, TLS, SASL).
func (j *Job) Prepare(ctx context.Context, opts ...eddy.Opt) error {
	_, client, err := j.client(opts)
	if err != nil {
		return err
	}
	defer client.Close()
	return j.prepare(ctx, kadm.NewClient(client))
}

// client is a Kafka client for the job's options followed by opts, which it returns.
func (j *Job) client(opts []eddy.Opt) ([]eddy.Opt, *kgo.Client, error) {
	all := append(j.Options(), opts...)
	anys := make([]any, len(all))
	for i, o := range all {
		anys[i] = o
	}
	client, err := bridge.Client(anys)
	return all, client, err
}

func (j *Job) prepare(ctx context.Context, adm *kadm.Client) error {
	if err := j.createTopics(ctx, adm); err != nil {
		return err
	}
	return j.commitStarts(ctx, adm)
}

// commitStarts commits, for a topic of Starts the group has no offsets on, the offsets
// its start names: a new group starts there, a group that has offsets goes on.
func (j *Job) commitStarts(ctx context.Context, adm *kadm.Client) error {
	if len(j.j.Starts) == 0 {
		return nil
	}
	committed, err := adm.FetchOffsets(ctx, j.id)
	if errors.Is(err, kerr.GroupIDNotFound) {
		err = nil // a new group: no offsets (some brokers answer so, Kafka with none)
	}
	if err != nil {
		return fmt.Errorf("sql: the committed offsets of group %s: %w", j.id, err)
	}
	var starts kadm.Offsets
	for _, s := range j.j.Starts {
		has := false
		committed.Each(func(o kadm.OffsetResponse) { has = has || o.Topic == s.Topic && o.At >= 0 })
		if has {
			continue
		}
		var listed kadm.ListedOffsets
		if s.Latest {
			listed, err = adm.ListEndOffsets(ctx, s.Topic)
		} else {
			listed, err = adm.ListOffsetsAfterMilli(ctx, s.Millis, s.Topic)
		}
		if err == nil {
			err = listed.Error()
		}
		if err != nil {
			return fmt.Errorf("sql: where table topic %s starts ('scan.startup.mode'): %w", s.Topic, err)
		}
		listed.Each(func(o kadm.ListedOffset) {
			starts.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1})
		})
	}
	if len(starts) == 0 {
		return nil
	}
	resp, err := adm.CommitOffsets(ctx, j.id, starts)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("sql: committing where group %s starts ('scan.startup.mode'): %w", j.id, err)
	}
	return nil
}

// createTopics creates the job's missing topics: its tables' with the broker's default
// partitions, its datagen tables' with one.
func (j *Job) createTopics(ctx context.Context, adm *kadm.Client) error {
	generated := map[string]bool{}
	for _, g := range j.j.Generators {
		generated[g.Topic] = true
	}
	topics := append(append([]string(nil), j.j.Sources...), j.j.Sinks...)
	existing, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("sql: listing the job's topics: %w", err)
	}
	for _, t := range topics {
		if existing.Has(t) {
			continue
		}
		partitions := int32(-1)
		if generated[t] {
			partitions = 1
		}
		resp, err := adm.CreateTopic(ctx, partitions, -1, nil, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("sql: creating topic %s: %w", t, err)
		}
	}
	return nil
}

func (j *Job) deleteGenerated(adm *kadm.Client) {
	if len(j.j.Generators) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var topics []string
	for _, g := range j.j.Generators {
		topics = append(topics, g.Topic)
	}
	_, _ = adm.DeleteTopics(ctx, topics...) // best effort: a leftover topic is only space
}

// generate writes a datagen table's rows: paced at its rate when paced, else as fast as
// the broker takes them; until its number of rows, or ctx's end.
func generate(ctx context.Context, client *kgo.Client, g *sqlplan.Generator, paced bool) error {
	var sent int64
	var failed error
	var mu sync.Mutex
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for g.Rows == 0 || sent < g.Rows {
		due := g.Rows - sent
		if paced {
			due = int64(time.Since(start).Seconds()*float64(g.RowsPerSecond)) - sent
			if g.Rows > 0 {
				due = min(due, g.Rows-sent)
			}
		}
		for range due {
			value, err := g.Next()
			if err != nil {
				return err
			}
			client.Produce(ctx, &kgo.Record{Topic: g.Topic, Value: value}, func(_ *kgo.Record, err error) {
				if err != nil && ctx.Err() == nil {
					mu.Lock()
					failed = cmp.Or(failed, err)
					mu.Unlock()
				}
			})
			sent++
		}
		if !paced {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		mu.Lock()
		err := failed
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("sql: datagen table %s: writing %s: %w", g.Table, g.Topic, err)
		}
	}
	if err := client.Flush(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		return fmt.Errorf("sql: datagen table %s: writing %s: %w", g.Table, g.Topic, failed)
	}
	return nil
}

func nonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
