package sqlplan

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

// A datagen table ('connector' = 'datagen', Flink's) is rows made up as a job runs: each
// job that reads it gets a topic of its own, which the job's runner fills (Job.Generators)
// while the job reads it as a kafka table of json rows. Options, as Flink's:
// 'rows-per-second' (10000), 'number-of-rows' (none: no end), and per physical column f
// 'fields.f.kind' (random or sequence), 'fields.f.min' and '.max' (numbers),
// '.length' (strings, 100), '.max-past' (timestamps: up to that far before now),
// '.start' and '.end' (sequences); and eddy's 'fields.f.expression', a SQL expression
// computed for each row (RAND_INTEGER(n), CONCAT('user-', …), CURRENT_TIMESTAMP, …).

// Generator fills a datagen table's topic for one job.
type Generator struct {
	Table string
	Topic string
	// RowsPerSecond is the rate; Rows the number of rows, 0 for no end.
	RowsPerSecond int
	Rows          int64
	// Next makes the next row's record value.
	Next func() ([]byte, error)
}

// field makes one column's values.
type field func(n int64) (any, error)

var datagenFieldOptions = []string{"kind", "min", "max", "length", "max-past", "start", "end", "expression"}

// datagenOptions checks a datagen table's options.
func (t *Table) datagenOptions(fail func(string, ...any) error) error {
	var unknown []string
	for k, v := range t.Options {
		switch k {
		case "connector":
			continue
		case "rows-per-second", "number-of-rows":
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
				return fail("'%s' = '%s': a positive whole number", k, v)
			}
			continue
		}
		col, opt, ok := strings.Cut(strings.TrimPrefix(k, "fields."), ".")
		if !strings.HasPrefix(k, "fields.") || !ok || !slices.Contains(datagenFieldOptions, opt) {
			unknown = append(unknown, "'"+k+"'")
			continue
		}
		i := slices.IndexFunc(t.Columns, func(c TableColumn) bool { return c.Name == col })
		if i < 0 || t.Columns[i].Kind != Physical {
			return fail("'%s': %s is not a physical column", k, col)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fail("unsupported options for 'datagen': %s (it takes 'rows-per-second', 'number-of-rows' and 'fields.<column>.<%s>')",
			strings.Join(unknown, ", "), strings.Join(datagenFieldOptions, "|"))
	}
	if _, err := t.fields(); err != nil {
		return fail("%v", err)
	}
	t.Options["format"] = "json"
	return nil
}

// fields are the generators of the table's physical columns (nil for the others).
func (t *Table) fields() ([]field, error) {
	out := make([]field, len(t.Columns))
	for i, c := range t.Columns {
		if c.Kind != Physical {
			continue
		}
		opt := func(name string) (string, bool) {
			v, ok := t.Options["fields."+c.Name+"."+name]
			return v, ok
		}
		num := func(name string, def float64) (float64, error) {
			v, ok := opt(name)
			if !ok {
				return def, nil
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("'fields.%s.%s' = '%s' is not a number", c.Name, name, v)
			}
			return f, nil
		}
		if text, ok := opt("expression"); ok {
			e, err := sqlparse.ParseExpr(text)
			if err != nil {
				return nil, fmt.Errorf("'fields.%s.expression': %v", c.Name, err)
			}
			x, err := Compile(e, &Scope{})
			if err != nil {
				return nil, fmt.Errorf("'fields.%s.expression': %v", c.Name, err)
			}
			if !widens(x.Type, c.Type) {
				return nil, fmt.Errorf("'fields.%s.expression' is %s, the column is %s", c.Name, x.Type.Kind, c.Type.Kind)
			}
			k := c.Type.Kind
			out[i] = func(int64) (any, error) {
				v, err := x.Eval(nil)
				return convert(v, k), err
			}
			continue
		}
		kind, _ := opt("kind")
		switch kind {
		case "sequence":
			start, err := num("start", 0)
			if err != nil {
				return nil, err
			}
			end, err := num("end", 0)
			if err != nil {
				return nil, err
			}
			if _, ok := opt("end"); !ok || end < start {
				return nil, fmt.Errorf("'fields.%s.kind' = 'sequence' needs 'fields.%s.start' and an 'end' at or after it", c.Name, c.Name)
			}
			k := c.Type.Kind
			switch k {
			case Int, BigInt, String:
			default:
				return nil, fmt.Errorf("a sequence of %s: sequences are INT, BIGINT or STRING", k)
			}
			s, e := int64(start), int64(end)
			out[i] = func(n int64) (any, error) {
				v := s + n
				if v > e {
					v = s + n%(e-s+1) // past its end the sequence starts again
				}
				switch k {
				case Int:
					return int32(v), nil
				case String:
					return strconv.FormatInt(v, 10), nil
				}
				return v, nil
			}
		case "", "random":
			f, err := randomField(c, opt, num)
			if err != nil {
				return nil, err
			}
			out[i] = f
		default:
			return nil, fmt.Errorf("'fields.%s.kind' = '%s': random or sequence", c.Name, kind)
		}
	}
	return out, nil
}

func randomField(c TableColumn, opt func(string) (string, bool), num func(string, float64) (float64, error)) (field, error) {
	switch c.Type.Kind {
	case Int, BigInt, Double:
		lo, hi := -2147483648.0, 2147483647.0
		if c.Type.Kind == BigInt {
			lo, hi = -9.2e18, 9.2e18
		}
		var err error
		if lo, err = num("min", lo); err != nil {
			return nil, err
		}
		if hi, err = num("max", hi); err != nil {
			return nil, err
		}
		if hi < lo {
			return nil, fmt.Errorf("'fields.%s.max' is below its 'min'", c.Name)
		}
		k := c.Type.Kind
		return func(int64) (any, error) {
			switch k {
			case Int:
				return int32(int64(lo) + mrand.Int64N(int64(hi)-int64(lo)+1)), nil
			case BigInt:
				return int64(lo) + mrand.Int64N(int64(hi-lo)+1), nil
			}
			return lo + mrand.Float64()*(hi-lo), nil
		}, nil
	case String, Bytes:
		n, err := num("length", 100)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("'fields.%s.length': a positive whole number", c.Name)
		}
		k := c.Type.Kind
		return func(int64) (any, error) {
			b := make([]byte, (int(n)+1)/2)
			_, _ = rand.Read(b)
			s := hex.EncodeToString(b)[:int(n)]
			if k == Bytes {
				return []byte(s), nil
			}
			return s, nil
		}, nil
	case Boolean:
		return func(int64) (any, error) { return mrand.IntN(2) == 1, nil }, nil
	case Timestamp, TimestampLTZ:
		var past time.Duration
		if v, ok := opt("max-past"); ok {
			var err error
			if past, err = ParseDuration(v); err != nil {
				return nil, fmt.Errorf("'fields.%s.max-past' = '%s': %v", c.Name, v, err)
			}
		}
		return func(int64) (any, error) {
			at := time.Now().UTC().Truncate(time.Millisecond)
			if past > 0 {
				at = at.Add(-time.Duration(mrand.Int64N(int64(past))))
			}
			return at, nil
		}, nil
	}
	return nil, fmt.Errorf("no random values of %s", c.Type.Kind)
}

// generator is the table's Generator for a job's topic.
func (t *Table) generator(topic string) (*Generator, error) {
	fields, err := t.fields()
	if err != nil {
		return nil, err
	}
	codecs, err := t.Codecs()
	if err != nil {
		return nil, err
	}
	g := &Generator{Table: t.Name, Topic: topic, RowsPerSecond: 10000}
	if v, ok := t.Options["rows-per-second"]; ok {
		g.RowsPerSecond, _ = strconv.Atoi(v)
	}
	if v, ok := t.Options["number-of-rows"]; ok {
		g.Rows, _ = strconv.ParseInt(v, 10, 64)
	}
	var n int64
	row := make([]any, len(t.Columns))
	g.Next = func() ([]byte, error) {
		for i, f := range fields {
			if f == nil {
				continue
			}
			v, err := f(n)
			if err != nil {
				return nil, fmt.Errorf("datagen table %s, column %s: %w", t.Name, t.Columns[i].Name, err)
			}
			row[i] = v
		}
		n++
		return codecs.Value.Encode(nil, row)
	}
	return g, nil
}

// nonce is a random name part: each job's datagen topics are its own.
func nonce() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
