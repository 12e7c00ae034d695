package sqlplan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

// Session runs statements as the shell and the SQL package do: DDL changes its catalog,
// SET and RESET its settings, SHOW TABLES and DESCRIBE answer with rows, EXPLAIN with the
// compiled topology, INSERT INTO with a job to run.
type Session struct {
	Catalog  *Catalog
	Settings map[string]string
}

// NewSession is a session with an empty catalog and Flink's default settings.
func NewSession() *Session {
	return &Session{Catalog: NewCatalog(), Settings: defaultSettings()}
}

// settingValues are the settings a session knows, with the values each may take (nil:
// a duration). Each acts on the jobs planned after it: the runtime mode makes them
// bounded (batch: over what the topics hold at start, then stop), the idle timeout is
// that of every table without 'scan.watermark.idle-timeout'.
var settingValues = map[string][]string{
	"execution.runtime-mode":           {"streaming", "batch"},
	"sql-client.execution.result-mode": {"table", "changelog", "tableau"}, // the shell's
	"execution.checkpointing.mode":     {"EXACTLY_ONCE", "AT_LEAST_ONCE"},
	"table.exec.source.idle-timeout":   nil,
}

func defaultSettings() map[string]string {
	return map[string]string{"execution.runtime-mode": "streaming"}
}

// Result is what a statement gave: a message, rows (the first the header), or a job.
type Result struct {
	Message string
	Rows    [][]string
	Job     *Job
}

// Exec runs one statement.
func (s *Session) Exec(st sqlparse.Statement) (*Result, error) {
	switch st := st.(type) {
	case *sqlparse.CreateTable:
		if st.As != nil {
			return s.createAs(st)
		}
		if err := s.Catalog.Create(st); err != nil {
			return nil, err
		}
		return &Result{Message: "table " + st.Name + " created"}, nil
	case *sqlparse.AlterTable:
		if err := s.Catalog.Alter(st); err != nil {
			return nil, err
		}
		return &Result{Message: "table " + st.Name + " altered"}, nil
	case *sqlparse.DropTable:
		if err := s.Catalog.Drop(st); err != nil {
			return nil, err
		}
		return &Result{Message: "table " + st.Name + " dropped"}, nil
	case *sqlparse.ShowTables:
		rows := [][]string{{"table name"}}
		for _, n := range s.Catalog.Tables() {
			rows = append(rows, []string{n})
		}
		return &Result{Rows: rows}, nil
	case *sqlparse.Describe:
		t, ok := s.Catalog.Table(st.Name)
		if !ok {
			return nil, errorAt(st.At, "no table %s (the tables: %s)", st.Name, strings.Join(s.Catalog.Tables(), ", "))
		}
		return &Result{Rows: t.Describe()}, nil
	case *sqlparse.Set:
		return s.set(st)
	case *sqlparse.Explain:
		job, err := s.plan(st.Statement)
		if err != nil {
			return nil, err
		}
		text, err := job.Topology.Describe()
		if err != nil {
			return nil, err
		}
		return &Result{Message: text}, nil
	case *sqlparse.Insert, *sqlparse.StatementSet, *sqlparse.QueryStatement:
		job, err := s.plan(st)
		if err != nil {
			return nil, err
		}
		msg := "job: " + st.String()
		if len(msg) > 80 {
			msg = msg[:77] + "..."
		}
		return &Result{Job: job, Message: msg}, nil
	}
	return nil, errorAt(st.Pos(), "%s is not supported yet", strings.SplitN(st.String(), " ", 2)[0])
}

func (s *Session) set(st *sqlparse.Set) (*Result, error) {
	switch {
	case st.Key == "" && st.Reset:
		s.Settings = defaultSettings()
		return &Result{Message: "all settings reset"}, nil
	case st.Key == "":
		rows := [][]string{{"key", "value"}}
		for _, k := range sortedKeys(s.Settings) {
			rows = append(rows, []string{k, s.Settings[k]})
		}
		return &Result{Rows: rows}, nil
	}
	values, known := settingValues[st.Key]
	if !known {
		return nil, errorAt(st.At, "unknown setting '%s' (the settings: %s)", st.Key, strings.Join(sortedKeys(settingValues), ", "))
	}
	if st.Reset {
		if v, ok := defaultSettings()[st.Key]; ok {
			s.Settings[st.Key] = v
		} else {
			delete(s.Settings, st.Key)
		}
		return &Result{Message: "setting " + st.Key + " reset"}, nil
	}
	if values != nil && !slices.Contains(values, st.Value) {
		return nil, errorAt(st.At, "SET '%s' = '%s': one of %s", st.Key, st.Value, strings.Join(values, ", "))
	}
	if st.Key == "table.exec.source.idle-timeout" {
		if _, err := ParseDuration(st.Value); err != nil {
			return nil, errorAt(st.At, "SET '%s' = '%s': %v", st.Key, st.Value, err)
		}
	}
	s.Settings[st.Key] = st.Value
	return &Result{Message: fmt.Sprintf("setting %s = %s", st.Key, st.Value)}, nil
}

// createAs runs CREATE TABLE t WITH (…) AS query, as Flink does: the table gets the
// query's columns (and the PRIMARY KEY given), and a job inserts the query's rows.
func (s *Session) createAs(st *sqlparse.CreateTable) (*Result, error) {
	if len(st.Columns) > 0 {
		return nil, errorAt(st.At, "CREATE TABLE %s … AS SELECT takes its columns from the query: leave the column list out", st.Name)
	}
	if _, ok := s.Catalog.tables[st.Name]; ok {
		return nil, errorAt(st.At, "table %s exists already (DROP TABLE it first)", st.Name)
	}
	probe, err := s.plan(&sqlparse.QueryStatement{Query: st.As})
	if err != nil {
		return nil, err
	}
	ct := *st
	ct.As, ct.Columns = nil, nil
	for i, name := range probe.Columns {
		ct.Columns = append(ct.Columns, &sqlparse.Column{At: st.At, Name: name, Type: syntaxOf(probe.Types[i])})
	}
	if err := s.Catalog.Create(&ct); err != nil {
		return nil, err
	}
	job, err := s.plan(&sqlparse.Insert{At: st.At, Table: st.Name, Query: st.As})
	if err != nil {
		delete(s.Catalog.tables, st.Name)
		return nil, err
	}
	return &Result{Job: job, Message: "table " + st.Name + " created; job: INSERT INTO " + st.Name + " " + st.As.String()}, nil
}

// syntaxOf is a type as CREATE TABLE writes it.
func syntaxOf(t Type) *sqlparse.Type {
	out := &sqlparse.Type{Name: t.Kind.String(), NotNull: t.NotNull}
	if t.temporal() {
		out.Params = []string{fmt.Sprint(t.Precision)}
	}
	return out
}

// plan plans an INSERT, a statement set or a query under the session's settings.
func (s *Session) plan(st sqlparse.Statement) (*Job, error) {
	s.Catalog.idleTimeout = 0
	if v, ok := s.Settings["table.exec.source.idle-timeout"]; ok {
		d, err := ParseDuration(v)
		if err != nil {
			return nil, err
		}
		s.Catalog.idleTimeout = d
	}
	batch := s.Settings["execution.runtime-mode"] == "batch"
	var job *Job
	var err error
	switch st := st.(type) {
	case *sqlparse.Insert:
		job, err = s.Catalog.PlanInserts([]*sqlparse.Insert{st}, batch)
	case *sqlparse.StatementSet:
		job, err = s.Catalog.PlanInserts(st.Inserts, batch)
	case *sqlparse.QueryStatement:
		return s.Catalog.PlanQuery(st.Query, batch)
	default:
		return nil, errorAt(st.Pos(), "EXPLAIN %s: only a query, an INSERT or a statement set runs as a job", strings.SplitN(st.String(), " ", 2)[0])
	}
	if err != nil {
		return nil, err
	}
	// INSERT jobs are exactly-once, as Flink's checkpoints make state (its default mode):
	// a job killed and started again resumes its state exactly. A query's result is
	// shown as it is made, so a query runs at-least-once.
	job.ExactlyOnce = s.Settings["execution.checkpointing.mode"] != "AT_LEAST_ONCE"
	return job, nil
}
