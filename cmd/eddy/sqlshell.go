package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/peterh/liner"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/sql"
)

const sqlSynopsis = `[-brokers host:port,…] [-f file | -e statements] [-mode table|changelog|tableau]

The SQL shell. Statements end with a semicolon; QUIT; (or Ctrl-D) leaves. A query shows
its result until it ends (batch mode) or Q (or Ctrl-C) stops it; INSERT INTO starts a job
that runs in the shell until it exits. Without -brokers (or $KAFKA_BOOTSTRAP) the shell
runs on an embedded in-process broker: a playground whose topics go when it exits.
With -f or -e the statements run in order; the shell then waits while INSERT jobs run
(until they end, in batch mode, or until it is stopped).`

// cmdSQL is eddy sql.
func cmdSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sql", sqlSynopsis, stderr)
	var c clusterFlags
	fs.StringVar(&c.brokers, "brokers", os.Getenv("KAFKA_BOOTSTRAP"), "the brokers, comma-separated (default $KAFKA_BOOTSTRAP; none: the embedded broker)")
	c.addSecurity(fs)
	file := fs.String("f", "", "run the statements of this file")
	exec := fs.String("e", "", "run these statements")
	mode := fs.String("mode", "", "how a query's result shows: table (a materialised table, updated in place), changelog (its changes, +I/-U/+U/-D), tableau (rows printed as they come); default table in a terminal, else tableau")
	stateDir := fs.String("state-dir", "", "where the jobs keep their local state (default: a temporary directory, removed at exit)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q (statements go in -e or -f)", errUsage, fs.Args())
	}
	if *file != "" && *exec != "" {
		return fmt.Errorf("%w: -f and -e both given", errUsage)
	}
	switch *mode {
	case "", "table", "changelog", "tableau":
	default:
		return fmt.Errorf("%w: -mode %q: table, changelog or tableau", errUsage, *mode)
	}
	if err := c.checkSecurity(); err != nil {
		return err
	}
	sh := &shell{session: sql.NewSession(), out: stdout, mode: *mode, jobErr: make(chan error, 16)}
	if strings.TrimSpace(c.brokers) == "" {
		cl, err := embedded.Start()
		if err != nil {
			return fmt.Errorf("starting the embedded broker: %w", err)
		}
		defer cl.Close()
		fmt.Fprintf(stderr, "eddy sql: no -brokers: running on the embedded in-process broker at %s (its topics go when the shell exits)\n", strings.Join(cl.Brokers(), ","))
		sh.opts = append(sh.opts, eddy.Brokers(cl.Brokers()...))
	} else {
		sh.opts = append(sh.opts, eddy.Brokers(c.seeds()...))
		cfg, mech, err := c.security()
		if err != nil {
			return err
		}
		if cfg != nil {
			sh.opts = append(sh.opts, eddy.TLS(cfg))
		}
		if mech != nil {
			sh.opts = append(sh.opts, eddy.SASL(mech))
		}
	}
	sh.opts = append(sh.opts, eddy.Logger(slog.New(slog.DiscardHandler))) // errors reach the shell through Run
	sh.stateDir = *stateDir
	if sh.stateDir == "" {
		dir, err := os.MkdirTemp("", "eddy-sql-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		sh.stateDir = dir
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		sh.jobs.Wait()
	}()
	sh.ctx = ctx
	switch {
	case *exec != "":
		return sh.script(*exec)
	case *file != "":
		text, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		return sh.script(string(text))
	case term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())):
		sh.tty = true
		return sh.interactive()
	}
	text, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	return sh.script(string(text))
}

// shell runs statements and shows their results.
type shell struct {
	ctx      context.Context
	session  *sql.Session
	out      io.Writer
	opts     []eddy.Opt
	mode     string // the -mode flag
	tty      bool   // interactive, in a terminal
	stateDir string
	jobs     sync.WaitGroup
	running  int
	jobErr   chan error
}

// script runs statements, then waits while the INSERT jobs run.
func (sh *shell) script(text string) error {
	if err := sh.session.ExecEach(text, sh.result); err != nil {
		return err
	}
	if sh.running == 0 {
		return nil
	}
	done := make(chan struct{})
	go func() { sh.jobs.Wait(); close(done) }()
	select {
	case <-done:
	case <-sh.ctx.Done():
		<-done
	}
	select {
	case err := <-sh.jobErr:
		return err
	default:
		return nil
	}
}

// interactive reads statements with line editing and history until QUIT or Ctrl-D.
func (sh *shell) interactive() error {
	line := liner.NewLiner()
	defer line.Close()
	line.SetCtrlCAborts(true)
	line.SetMultiLineMode(true)
	history := ""
	if home, err := os.UserHomeDir(); err == nil {
		history = filepath.Join(home, ".eddy_sql_history")
		if f, err := os.Open(history); err == nil {
			_, _ = line.ReadHistory(f)
			f.Close()
		}
	}
	defer func() {
		if history == "" {
			return
		}
		if f, err := os.Create(history); err == nil {
			_, _ = line.WriteHistory(f)
			f.Close()
		}
	}()
	fmt.Fprint(sh.out, "eddy SQL: Flink SQL over Kafka topics. End statements with ';'; HELP; for help, QUIT; to leave.\n\n")
	var buf strings.Builder
	for sh.ctx.Err() == nil {
		prompt := "eddy SQL> "
		if buf.Len() > 0 {
			prompt = "        > "
		}
		text, err := line.Prompt(prompt)
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			buf.Reset()
			continue
		case errors.Is(err, io.EOF):
			fmt.Fprintln(sh.out)
			return nil
		case err != nil:
			return err
		}
		if buf.Len() > 0 {
			buf.WriteByte('\n')
		}
		buf.WriteString(text)
		stmt := strings.TrimSpace(buf.String())
		if !strings.HasSuffix(stmt, ";") {
			continue
		}
		buf.Reset()
		line.AppendHistory(stmt)
		switch strings.ToUpper(strings.TrimSpace(strings.TrimSuffix(stmt, ";"))) {
		case "QUIT", "EXIT":
			return nil
		case "HELP":
			fmt.Fprint(sh.out, shellHelp)
			continue
		case "CLEAR":
			fmt.Fprint(sh.out, "\x1b[H\x1b[2J")
			continue
		}
		if err := sh.session.ExecEach(stmt, sh.result); err != nil {
			fmt.Fprintf(sh.out, "[ERROR] Could not execute SQL statement. Reason:\n%v\n\n", err)
		}
		for {
			select {
			case err := <-sh.jobErr:
				fmt.Fprintf(sh.out, "[ERROR] %v\n", err)
				continue
			default:
			}
			break
		}
	}
	return nil
}

const shellHelp = `Statements (end each with ';'):
  CREATE TABLE t (…) WITH ('connector' = 'kafka' | 'upsert-kafka' | 'datagen', …)
  DROP TABLE t          SHOW TABLES          DESCRIBE t
  SET 'key' = 'value'   SET                  RESET ['key']
      execution.runtime-mode = streaming | batch
      table.exec.source.idle-timeout = '5 s'
      sql-client.execution.result-mode = table | changelog | tableau
  SELECT …              a query: its result shows until it ends, or Q stops it
  INSERT INTO t SELECT …   a job: it runs in the shell until the shell exits
  EXECUTE STATEMENT SET BEGIN INSERT …; INSERT …; END   several INSERTs as one job
  EXPLAIN SELECT … | INSERT …   the compiled eddy topology
  HELP   CLEAR   QUIT

`

// result shows one statement's result; a query runs there, an INSERT job starts.
func (sh *shell) result(r *sql.Result) error {
	switch {
	case r.Job != nil && r.Job.Columns() != nil:
		return sh.query(r)
	case r.Job != nil:
		return sh.start(r.Job)
	case r.Header != nil:
		printTable(sh.out, r.Header, r.Rows, "")
		fmt.Fprintf(sh.out, "%d rows in set\n\n", len(r.Rows))
	default:
		fmt.Fprintf(sh.out, "[INFO] %s\n\n", r.Message)
	}
	return nil
}

// start starts an INSERT job in the background.
func (sh *shell) start(job *sql.Job) error {
	opts := append(append([]eddy.Opt(nil), sh.opts...), eddy.StateDir(filepath.Join(sh.stateDir, job.ApplicationID())))
	sh.running++
	sh.jobs.Add(1)
	go func() {
		defer sh.jobs.Done()
		if err := job.Run(sh.ctx, opts...); err != nil && sh.ctx.Err() == nil {
			sh.jobErr <- fmt.Errorf("job %s failed: %w", job.ApplicationID(), err)
		}
	}()
	what := "it runs until the shell exits"
	if job.Bounded() {
		what = "it reads what its topics hold now, then ends"
	}
	fmt.Fprintf(sh.out, "[INFO] Submitting SQL update statement: job %s (reads %s, writes %s); %s.\n\n",
		job.ApplicationID(), strings.Join(job.Sources(), ", "), strings.Join(job.Sinks(), ", "), what)
	return nil
}

// query runs a query's job and shows its result until the job ends or the user stops it.
func (sh *shell) query(r *sql.Result) error {
	job := r.Job
	mode := sh.mode
	if v, ok := sh.session.Setting("sql-client.execution.result-mode"); ok && mode == "" {
		mode = v
	}
	if !sh.tty {
		mode = "tableau" // a table or a changelog view needs a terminal
	} else if mode == "" {
		mode = "table"
	}
	view := newResultView(job, mode, r.Statement)
	if sh.tty {
		view.eol = "\r\n" // the terminal is raw while the query runs
	}
	job.OnResult(view.add)
	ctx, cancel := context.WithCancel(sh.ctx)
	defer cancel()
	done := make(chan error, 1)
	dir := filepath.Join(sh.stateDir, job.ApplicationID())
	go func() {
		done <- job.Run(ctx, append(append([]eddy.Opt(nil), sh.opts...), eddy.StateDir(dir))...)
	}()
	stopKeys := func() {}
	if sh.tty {
		var err error
		if stopKeys, err = watchKeys(cancel); err != nil {
			return err
		}
	}
	defer stopKeys()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case err = <-done:
			break loop
		case <-tick.C:
			view.render(sh.out, false)
		}
	}
	stopKeys()
	view.render(sh.out, true)
	_ = os.RemoveAll(dir)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("query failed: %w", err)
	}
	return nil
}

// watchKeys puts the terminal in raw mode and calls stop when Q or Ctrl-C is pressed; the
// function it returns restores the terminal (once; later calls do nothing). It polls
// stdin, so no read is left pending to take the prompt's next key.
func watchKeys(stop func()) (func(), error) {
	fd := int(os.Stdin.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1)
		for {
			select {
			case <-quit:
				return
			default:
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, 100)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return
			}
			if n == 0 {
				continue
			}
			if _, err := os.Stdin.Read(buf); err != nil {
				return
			}
			if buf[0] == 'q' || buf[0] == 'Q' || buf[0] == 3 {
				stop()
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			wg.Wait()
			_ = term.Restore(fd, old)
		})
	}, nil
}

// resultView is a query's result as the mode shows it: table keeps the rows the changes
// leave (a -U or -D takes its row away, the +U after a -U goes in its place), changelog
// every change, tableau prints each change as it comes.
type resultView struct {
	mode, statement string
	header          []string
	widths          []int
	ops             bool // an op column (+I, -U, …): a streaming query's changes
	mu              sync.Mutex
	rows            []sql.Row // table: the rows; changelog: the changes
	pending         []sql.Row // tableau: the changes not printed yet
	hole            int       // table: where the last -U's row was, for its +U (-1: none)
	changes         int
	started         bool
	updated         time.Time
	eol             string
}

func newResultView(job *sql.Job, mode, statement string) *resultView {
	v := &resultView{mode: mode, statement: statement, hole: -1, ops: !job.Bounded() && mode != "table", eol: "\n"}
	for _, c := range job.Columns() {
		v.header = append(v.header, c.Name)
		v.widths = append(v.widths, max(utf8.RuneCountInString(c.Name), typeWidth(c.Type)))
	}
	if v.ops {
		v.header = append([]string{"op"}, v.header...)
		v.widths = append([]int{2}, v.widths...)
	}
	return v
}

// typeWidth is a column's width for its type's values, as Flink's tableau sizes them.
func typeWidth(t string) int {
	switch {
	case strings.HasPrefix(t, "BOOLEAN"):
		return 5
	case strings.HasPrefix(t, "INT"):
		return 11
	case strings.HasPrefix(t, "BIGINT"):
		return 20
	case strings.HasPrefix(t, "DOUBLE"):
		return 22
	case strings.HasPrefix(t, "TIMESTAMP"):
		return 23
	}
	return 20
}

func (v *resultView) add(r sql.Row) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.changes++
	v.updated = time.Now()
	switch v.mode {
	case "tableau":
		v.pending = append(v.pending, r)
	case "changelog":
		v.rows = append(v.rows, r)
	default:
		if r.Kind == sql.UpdateBefore || r.Kind == sql.Delete {
			for i, row := range v.rows {
				if equalRow(row, r) {
					v.rows = append(v.rows[:i], v.rows[i+1:]...)
					if r.Kind == sql.UpdateBefore {
						v.hole = i
					}
					return
				}
			}
			return
		}
		r.Kind = sql.Insert
		if v.hole >= 0 && v.hole <= len(v.rows) {
			v.rows = append(v.rows[:v.hole], append([]sql.Row{r}, v.rows[v.hole:]...)...)
			v.hole = -1
			return
		}
		v.rows = append(v.rows, r)
	}
}

func equalRow(a, b sql.Row) bool {
	if len(a.Values) != len(b.Values) {
		return false
	}
	for i := range a.Values {
		if sql.FormatValue(a.Values[i]) != sql.FormatValue(b.Values[i]) {
			return false
		}
	}
	return true
}

// cells are a row's texts, with its op when the view shows ops.
func (v *resultView) cells(r sql.Row) []string {
	var out []string
	if v.ops {
		out = append(out, r.Kind.String())
	}
	for _, x := range r.Values {
		out = append(out, sql.FormatValue(x))
	}
	return out
}

// render shows the view: tableau prints the new changes (and at the end a total), table
// and changelog redraw the screen.
func (v *resultView) render(w io.Writer, final bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.mode == "tableau" {
		if !v.started {
			v.started = true
			fmt.Fprint(w, border(v.widths)+v.eol+line(v.header, v.widths)+v.eol+border(v.widths)+v.eol)
		}
		for _, r := range v.pending {
			fmt.Fprint(w, line(v.cells(r), v.widths)+v.eol)
		}
		v.pending = v.pending[:0]
		if final {
			fmt.Fprint(w, border(v.widths)+v.eol)
			if v.ops {
				fmt.Fprintf(w, "Received a total of %d rows%s%s", v.changes, v.eol, v.eol)
			} else {
				fmt.Fprintf(w, "%d rows in set%s%s", v.changes, v.eol, v.eol)
			}
		}
		return
	}
	height := 24
	if _, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil && h > 8 {
		height = h
	}
	rows := v.rows
	if max := height - 7; len(rows) > max {
		rows = rows[len(rows)-max:]
	}
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	b.WriteString(border(v.widths) + v.eol + line(v.header, v.widths) + v.eol + border(v.widths) + v.eol)
	for _, r := range rows {
		b.WriteString(line(v.cells(r), v.widths) + v.eol)
	}
	b.WriteString(border(v.widths) + v.eol)
	updated := "-"
	if !v.updated.IsZero() {
		updated = v.updated.Format("15:04:05.000")
	}
	status := "Q: stop the query"
	if final {
		status = "the query has ended"
	}
	what := "rows"
	if v.mode == "changelog" {
		what = "changes"
	}
	fmt.Fprintf(&b, "%s mode | %d %s | %d changes | updated %s | %s%s", v.mode, len(v.rows), what, v.changes, updated, status, v.eol)
	if final {
		b.WriteString(v.eol)
	}
	fmt.Fprint(w, b.String())
}

// printTable writes a table of text with borders, as Flink's tableau does.
func printTable(w io.Writer, header []string, rows [][]string, eol string) {
	if eol == "" {
		eol = "\n"
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	fmt.Fprint(w, border(widths)+eol+line(header, widths)+eol+border(widths)+eol)
	for _, r := range rows {
		fmt.Fprint(w, line(r, widths)+eol)
	}
	fmt.Fprint(w, border(widths)+eol)
}

func border(widths []int) string {
	var b strings.Builder
	for _, w := range widths {
		b.WriteString("+" + strings.Repeat("-", w+2))
	}
	return b.String() + "+"
}

// line writes cells right-aligned in their widths; a longer one is cut, ending in "...".
func line(cells []string, widths []int) string {
	var b strings.Builder
	for i, c := range cells {
		if n := utf8.RuneCountInString(c); n > widths[i] {
			c = string([]rune(c)[:max(widths[i]-3, 0)]) + "..."
		}
		fmt.Fprintf(&b, "| %*s ", widths[i], c)
	}
	return b.String() + "|"
}
