package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/eddy-streams/eddy/internal/dirlock"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// cmdStore is "eddy store list|dump": a stopped instance's local state, read only.
func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "dump") {
		if len(args) > 0 && (args[0] == "-help" || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			fmt.Fprint(stderr, storeUsage)
			return flag.ErrHelp
		}
		fmt.Fprint(stderr, storeUsage)
		return fmt.Errorf("%w: give list or dump", errUsage)
	}
	if args[0] == "list" {
		return cmdStoreList(args[1:], stdout, stderr)
	}
	return cmdStoreDump(args[1:], stdout, stderr)
}

const storeUsage = `Usage: eddy store list -state-dir <dir> -app <id>
       eddy store dump -state-dir <dir> -app <id> -store <name> [flags]

Reads the local state a stopped instance left in its state directory (eddy.StateDir),
without changing it: list shows each store's slices (one per task) with their keys and
changelog positions, dump writes a store's keys and values. A running instance holds
the directory: stop it first. Run eddy store dump -help for dump's flags.
`

// stateFlags are the flags that find an instance's state.
type stateFlags struct {
	dir, app string
}

func (s *stateFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&s.dir, "state-dir", "", "the instance's state directory (eddy.StateDir; the examples' -state-dir)")
	fs.StringVar(&s.app, "app", "", "the application id (its state is under <state-dir>/<app>)")
}

// open opens the instance's database read-only, holding the instance's lock so that it
// cannot start meanwhile. close releases both.
func (s *stateFlags) open() (db *store.Badger, close func(), err error) {
	if s.dir == "" || s.app == "" {
		return nil, nil, fmt.Errorf("%w: give -state-dir and -app", errUsage)
	}
	dir := filepath.Join(s.dir, s.app)
	path := filepath.Join(dir, "state")
	if _, err := os.Stat(filepath.Join(path, "MANIFEST")); err != nil {
		return nil, nil, fmt.Errorf("no local state at %s: is -state-dir the instance's StateDir and -app its ApplicationID? "+
			"(an application whose stores all keep their state in memory writes none)", path)
	}
	lock, err := dirlock.Acquire(dir)
	if errors.Is(err, dirlock.ErrLocked) {
		return nil, nil, fmt.Errorf("an instance of %s is running on %s: stop it first (eddy store reads a stopped instance's state)", s.app, s.dir)
	}
	if err != nil {
		return nil, nil, err
	}
	db, err = store.OpenBadger(path, store.BadgerOptions{ReadOnly: true, LowMemory: true})
	if err != nil {
		lock.Release()
		return nil, nil, fmt.Errorf("opening %s read-only: %w", path, err)
	}
	return db, func() { db.Close(); lock.Release() }, nil
}

// taskName is a slice's task as eddy names it ("0_1"), or "global".
func taskName(sl state.Slice) string {
	if sl.Global {
		return "global"
	}
	return fmt.Sprintf("%d_%d", sl.Sub, sl.Partition)
}

func cmdStoreList(args []string, stdout, stderr io.Writer) error {
	var s stateFlags
	fs := newFlags("store list", "-state-dir <dir> -app <id>", stderr)
	s.add(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	db, closeDB, err := s.open()
	if err != nil {
		return err
	}
	defer closeDB()
	slices, err := state.Inspect(db)
	if err != nil {
		return err
	}
	if len(slices) == 0 {
		fmt.Fprintf(stdout, "no stores in %s\n", filepath.Join(s.dir, s.app))
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tTASK\tKEYS\tCHANGELOG OFFSET\tCHECKPOINTED")
	for _, sl := range slices {
		offset, written := "-", "-"
		switch {
		case sl.HasCheckpoint:
			offset, written = strconv.FormatInt(sl.Checkpoint.Offset, 10), sl.Checkpoint.Written.UTC().Format(time.RFC3339)
		case len(sl.GlobalCheckpoints) > 0:
			var parts []string
			var last time.Time
			for p := int32(0); len(parts) < len(sl.GlobalCheckpoints); p++ {
				if cp, ok := sl.GlobalCheckpoints[p]; ok {
					parts = append(parts, fmt.Sprintf("%d:%d", p, cp.Offset))
					if cp.Written.After(last) {
						last = cp.Written
					}
				}
			}
			offset, written = strings.Join(parts, " "), last.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", sl.Store, taskName(sl), sl.Keys, offset, written)
	}
	return tw.Flush()
}

// The byte formats of dump's -key and -value.
var formats = map[string]func([]byte) (any, error){
	"quoted": func(b []byte) (any, error) { return strconv.Quote(string(b)), nil },
	"string": func(b []byte) (any, error) {
		if !utf8.Valid(b) {
			return nil, errors.New("not UTF-8")
		}
		return string(b), nil
	},
	"hex":    func(b []byte) (any, error) { return hex.EncodeToString(b), nil },
	"base64": func(b []byte) (any, error) { return base64.StdEncoding.EncodeToString(b), nil },
	"int64":  func(b []byte) (any, error) { return serde.Int64().Decode(b) },
	"int32":  func(b []byte) (any, error) { return serde.Int32().Decode(b) },
}

const formatNames = "quoted, string, hex, base64, int64 or int32"

// pickFormats returns the -key and -value formats of a dump; under -json, "quoted" is
// "string" (JSON has its own quoting).
func pickFormats(key, value string, asJSON bool) (fk, fv func([]byte) (any, error), err error) {
	pick := func(flag, name string) (func([]byte) (any, error), error) {
		if asJSON && name == "quoted" {
			name = "string"
		}
		f, ok := formats[name]
		if !ok {
			return nil, fmt.Errorf("%w: -%s %q: the formats are %s", errUsage, flag, name, formatNames)
		}
		return f, nil
	}
	if fk, err = pick("key", key); err == nil {
		fv, err = pick("value", value)
	}
	return fk, fv, err
}

func cmdStoreDump(args []string, stdout, stderr io.Writer) error {
	var s stateFlags
	fs := newFlags("store dump", "-state-dir <dir> -app <id> -store <name> [flags]", stderr)
	s.add(fs)
	name := fs.String("store", "", "the store's name, as the topology names it (eddy store list shows them)")
	task := fs.String("task", "", "only this task's slice, e.g. 0_1 (default every task's)")
	keyFormat := fs.String("key", "quoted", "how to write keys: "+formatNames+" (int64 and int32 are eddy's big-endian encodings)")
	valueFormat := fs.String("value", "quoted", "how to write values: "+formatNames)
	asJSON := fs.Bool("json", false, `write one JSON object per line: {"task": …, "key": …, "value": …}`)
	limit := fs.Int64("limit", 0, "stop after this many entries (default all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: give -store <name> (eddy store list shows the stores)", errUsage)
	}
	fk, fv, err := pickFormats(*keyFormat, *valueFormat, *asJSON)
	if err != nil {
		return err
	}
	db, closeDB, err := s.open()
	if err != nil {
		return err
	}
	defer closeDB()
	all, err := state.Inspect(db)
	if err != nil {
		return err
	}
	var names []string
	var n int64
	found := false
	enc := json.NewEncoder(stdout)
	for _, sl := range all {
		if len(names) == 0 || names[len(names)-1] != sl.Store {
			names = append(names, sl.Store)
		}
		if sl.Store != *name || (*task != "" && taskName(sl) != *task) {
			continue
		}
		found = true
		tn := taskName(sl)
		err := sl.Scan(db, func(k, v []byte) error {
			if *limit > 0 && n >= *limit {
				return errLimit
			}
			key, err := fk(k)
			if err != nil {
				return fmt.Errorf("task %s: key %q as %s: %v; choose another -key", tn, k, *keyFormat, err)
			}
			value, err := fv(v)
			if err != nil {
				return fmt.Errorf("task %s: the value of key %q as %s: %v; choose another -value", tn, k, *valueFormat, err)
			}
			n++
			if *asJSON {
				return enc.Encode(struct {
					Task  string `json:"task"`
					Key   any    `json:"key"`
					Value any    `json:"value"`
				}{tn, key, value})
			}
			_, err = fmt.Fprintf(stdout, "%s\t%v\t%v\n", tn, key, value)
			return err
		})
		if errors.Is(err, errLimit) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	if !found {
		if *task != "" {
			return fmt.Errorf("no slice of store %q for task %s here (eddy store list shows the slices)", *name, *task)
		}
		return fmt.Errorf("no store %q here; the stores are: %s", *name, strings.Join(names, ", "))
	}
	return nil
}

var errLimit = errors.New("limit reached")
