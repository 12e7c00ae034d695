package sqlplan

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// scan is a table's rows as a changelog: a kafka table's records are inserts; an
// upsert-kafka table's are upserts by key, normalised into +I, -U/+U and -D against the
// key's last row, kept in a store (Flink's ChangelogNormalize). Each table is read once
// per job: a second scan shares the first's stream.
func (p *planner) scan(t *Table) (*rel, error) {
	if r, ok := p.scans[t.Name]; ok {
		return r, nil
	}
	read, err := p.c.reader(t, p.columnsRead(t))
	if err != nil {
		return nil, err
	}
	topic := t.Options["topic"]
	if t.Connector == "datagen" {
		topic = "eddy-datagen-" + strings.ToLower(t.Name) + "-" + p.nonce
		g, err := t.generator(topic)
		if err != nil {
			return nil, err
		}
		if p.batch && g.Rows == 0 {
			return nil, fmt.Errorf("datagen table %s in batch mode: give it an end, 'number-of-rows' (a batch job reads bounded input)", t.Name)
		}
		p.job.Generators = append(p.job.Generators, g)
	}
	rows := read.stream(p.top, topic)
	proc := &scanProc{read: read, batch: p.batch}
	var opts []topology.Option
	upsert := t.Connector == "upsert-kafka"
	if upsert {
		proc.store = "sql-" + strings.ToLower(t.Name) + "-source"
		kinds := t.kinds()
		pk := make([]Kind, len(t.PrimaryKey))
		for i, c := range t.PrimaryKey {
			pk[i] = kinds[c]
		}
		proc.keys, proc.rows = binRow{pk}, binRow{kinds}
		topology.NewKeyValueStore(p.top, proc.store, serde.Bytes(), serde.Bytes())
		opts = append(opts, topology.Stores(proc.store))
	}
	s := topology.Process(rows, "SQL-SCAN-"+strings.ToUpper(t.Name), func() processor.Processor[[]any, []any, []any, Change] {
		c := *proc
		return &c
	}, opts...)
	rowtime := -1
	if t.Watermark != nil {
		rowtime = t.Watermark.Column
	}
	r := &rel{scope: t.Scope(t.Name), s: s, updating: upsert, rowtime: rowtime}
	if t.Options["key.format"] == "raw" && t.Options["scan.partitioned-by-key"] != "false" {
		// A raw key's bytes are its one column's: equal values, equal bytes, one
		// partition, as every client's default partitioner places records (Kafka
		// Streams' groupByKey relies on the same). Other formats may write one value in
		// several ways. 'scan.partitioned-by-key' = 'false' says the topic's records
		// were placed otherwise (by hand, round-robin): aggregations repartition.
		for i, c := range t.Columns {
			if c.Kind == Physical && t.inKey(c.Name) {
				r.keyCols = append(r.keyCols, i)
			}
		}
	}
	if upsert {
		var key []string
		for _, c := range t.PrimaryKey {
			key = append(key, t.Columns[c].Name)
		}
		r.producer = "ChangelogNormalize(key=[" + strings.Join(key, ", ") + "])"
	}
	p.scans[t.Name] = r
	p.job.sources = append(p.job.sources, t)
	p.job.Sources = append(p.job.Sources, topic)
	switch t.Options["scan.startup.mode"] {
	case "latest-offset":
		p.job.Starts = append(p.job.Starts, Start{Topic: topic, Latest: true})
	case "timestamp":
		ms, _ := strconv.ParseInt(t.Options["scan.startup.timestamp-millis"], 10, 64)
		p.job.Starts = append(p.job.Starts, Start{Topic: topic, Millis: ms})
	}
	return r, nil
}

// scanProc completes each record's row and forwards it as a change.
type scanProc struct {
	ctx   processor.Context[[]any, Change]
	read  *reader
	batch bool
	// An upsert table's: its store of each key's last row, and the codecs of keys and rows.
	store      string
	kv         store.Bytes
	keys, rows binRow
	buf        []byte
}

func (s *scanProc) Init(ctx processor.Context[[]any, Change]) error {
	s.ctx = ctx
	if s.store != "" {
		var err error
		if s.kv, err = ctx.Store(s.store); err != nil {
			return err
		}
	}
	return nil
}

func (s *scanProc) Close() error { return nil }

func (s *scanProc) Process(rec processor.Record[[]any, []any]) error {
	if s.kv == nil {
		if rec.Value == nil {
			return nil // a tombstone in an append-only table: no row
		}
		row, _, err := s.read.prepare(rec, s.ctx, nil)
		if err != nil {
			return err
		}
		return s.ctx.Forward(processor.Record[[]any, Change]{Value: Change{Insert, row}, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	deleted := rec.Value == nil
	if deleted {
		rec.Value = make([]any, len(s.read.t.Columns))
	}
	row, _, err := s.read.prepare(rec, s.ctx, nil)
	if err != nil {
		return err
	}
	key := make([]any, len(s.read.t.PrimaryKey))
	for i, c := range s.read.t.PrimaryKey {
		key[i] = row[c]
	}
	if s.buf, err = s.keys.AppendEncode(s.buf[:0], key); err != nil {
		return err
	}
	var old []any
	found, err := s.kv.Get(s.buf, func(v []byte) (err error) {
		old, err = s.rows.Decode(v)
		return err
	})
	if err != nil {
		return fmt.Errorf("table %s: the last row of a key: %w", s.read.t.Name, err)
	}
	out := func(kind RowKind, row []any) error {
		if s.batch {
			return nil // the rows that remain are reported at the end
		}
		return s.ctx.Forward(processor.Record[[]any, Change]{Value: Change{kind, row}, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	if deleted {
		if !found {
			return nil
		}
		s.kv.Delete(s.buf)
		return out(Delete, old)
	}
	enc, err := s.rows.AppendEncode(nil, row)
	if err != nil {
		return err
	}
	s.kv.Put(s.buf, enc)
	if !found {
		return out(Insert, row)
	}
	if err := out(UpdateBefore, old); err != nil {
		return err
	}
	return out(UpdateAfter, row)
}

// EndOfInput reports, in batch mode, each key's last row.
func (s *scanProc) EndOfInput() error {
	if s.kv == nil || !s.batch {
		return nil
	}
	now := time.Now()
	return eachValue(s.kv, nil, nil, s.rows, func(row []any) error {
		return s.ctx.Forward(processor.Record[[]any, Change]{Value: Change{Insert, row}, Timestamp: now})
	})
}

// eachValue decodes every value of the store's keys in [lo, hi).
func eachValue(kv store.Bytes, lo, hi []byte, codec binRow, fn func([]any) error) error {
	it, err := kv.Range(lo, hi)
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		row, err := codec.Decode(it.Value())
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return it.Err()
}
