package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/eddy-streams/eddy/savepoint"
)

// cmdSavepoint is "eddy savepoint create|ls|verify|dump".
func cmdSavepoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "create":
		return cmdSavepointCreate(ctx, args[1:], stdout, stderr)
	case "ls", "show":
		return withSavepoint("savepoint "+sub, args[1:], stderr, nil, func(sp *savepoint.Savepoint) error { return listSavepoint(sp, stdout) })
	case "verify":
		return withSavepoint("savepoint verify", args[1:], stderr, nil, func(sp *savepoint.Savepoint) error {
			if err := sp.Verify(); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "savepoint intact: every data file matches the manifest")
			return nil
		})
	case "dump":
		return cmdSavepointDump(args[1:], stdout, stderr)
	case "-help", "--help", "-h", "help":
		fmt.Fprint(stderr, savepointUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, savepointUsage)
	return fmt.Errorf("%w: give create, ls, verify or dump", errUsage)
}

const savepointUsage = `Usage: eddy savepoint create -brokers host:port -app <id> -dir <dir>
       eddy savepoint ls|show -dir <dir>
       eddy savepoint verify -dir <dir>
       eddy savepoint dump -dir <dir> -store <name> [flags]

A savepoint is a portable snapshot of an application's state (SAVEPOINTS.md): every
store's entries, with the input offsets and watermarks they correspond to. create takes
one of an application from its changelogs and committed offsets: a running one is paused
(every instance commits and waits) while it is read, then goes on; ls (or show) lists a savepoint's stores, sizes and offsets; verify checks every
data file against the manifest; dump writes a store's keys and values.
`

// withSavepoint parses -dir (and extra's flags) and runs body on the savepoint there.
func withSavepoint(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet), body func(*savepoint.Savepoint) error) error {
	fs := newFlags(name, "-dir <dir>", stderr)
	dir := fs.String("dir", "", "the savepoint's directory")
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("%w: give -dir <savepoint directory>", errUsage)
	}
	sp, err := savepoint.Open(savepoint.DirFS(*dir).FS())
	if err != nil {
		return err
	}
	return body(sp)
}

func cmdSavepointCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c clusterFlags
	fs := newFlags("savepoint create", "-brokers host:port -app <id> -dir <dir>", stderr)
	c.add(fs)
	dir := fs.String("dir", "", "where to write the savepoint: a new or empty directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("%w: give -dir <directory>", errUsage)
	}
	opts, err := c.clientOpts()
	if err != nil {
		return err
	}
	m, err := savepoint.Take(ctx, c.app, savepoint.DirFS(*dir), opts...)
	if err != nil {
		return err
	}
	var entries int64
	for _, st := range m.Stores {
		for _, f := range st.Slices {
			entries += f.Entries
		}
	}
	var pending int64
	for _, st := range m.Pending {
		for _, f := range st.Slices {
			pending += f.Entries
		}
	}
	fmt.Fprintf(stdout, "savepoint of %s in %s: %d stores, %d entries, %d records in flight, %d input offsets\n",
		c.app, *dir, len(m.Stores), entries, pending, len(m.Offsets))
	return nil
}

// sliceTable writes a table of stores (or internal topics) with their slices' totals.
func sliceTable(tw *tabwriter.Writer, header string, list []savepoint.Store) error {
	fmt.Fprintln(tw, header)
	for _, st := range list {
		var entries, bytes int64
		for _, f := range st.Slices {
			entries, bytes = entries+f.Entries, bytes+f.Bytes
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", st.Name, st.Partitions, len(st.Slices), entries, bytes)
	}
	return tw.Flush()
}

// listSavepoint writes a savepoint's manifest as tables.
func listSavepoint(sp *savepoint.Savepoint, stdout io.Writer) error {
	m := sp.Manifest
	fmt.Fprintf(stdout, "application %s, taken %s, format version %d\n\n", m.ApplicationID, m.Created.Format("2006-01-02 15:04:05 MST"), m.Version)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if err := sliceTable(tw, "STORE\tPARTITIONS\tSLICES\tENTRIES\tBYTES", m.Stores); err != nil {
		return err
	}
	if len(m.Pending) > 0 {
		fmt.Fprintln(stdout)
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		if err := sliceTable(tw, "IN FLIGHT (INTERNAL TOPIC)\tPARTITIONS\tSLICES\tRECORDS\tBYTES", m.Pending); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout)
	watermarks := map[string]int64{}
	for _, w := range m.Watermarks {
		watermarks[fmt.Sprintf("%s/%d", w.Topic, w.Partition)] = w.Millis
	}
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOFFSET\tTIME (ms)")
	for _, o := range m.Offsets {
		t := "-"
		if ms, ok := watermarks[fmt.Sprintf("%s/%d", o.Topic, o.Partition)]; ok {
			t = fmt.Sprint(ms)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", o.Topic, o.Partition, o.Offset, t)
	}
	return tw.Flush()
}

func cmdSavepointDump(args []string, stdout, stderr io.Writer) error {
	var name, keyFormat, valueFormat string
	var partition int
	var asJSON bool
	return withSavepoint("savepoint dump", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "store", "", "the store's name (eddy savepoint ls shows them)")
		fs.IntVar(&partition, "partition", -1, "only this partition's slice (default every one)")
		fs.StringVar(&keyFormat, "key", "quoted", "how to write keys: "+formatNames)
		fs.StringVar(&valueFormat, "value", "quoted", "how to write values: "+formatNames)
		fs.BoolVar(&asJSON, "json", false, `write one JSON object per line: {"partition": …, "key": …, "value": …}`)
	}, func(sp *savepoint.Savepoint) error {
		if name == "" {
			return fmt.Errorf("%w: give -store <name> (eddy savepoint ls shows the stores)", errUsage)
		}
		st, ok := sp.Store(name)
		if !ok {
			return fmt.Errorf("the savepoint has no store %q (eddy savepoint ls shows the stores)", name)
		}
		fk, fv, err := pickFormats(keyFormat, valueFormat, asJSON)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, f := range st.Slices {
			if partition >= 0 && f.Partition != int32(partition) {
				continue
			}
			err := sp.Entries(name, f.Partition, func(k, v []byte) error {
				key, err := fk(k)
				if err != nil {
					return fmt.Errorf("partition %d: a key as %s: %w", f.Partition, keyFormat, err)
				}
				value, err := fv(v)
				if err != nil {
					return fmt.Errorf("partition %d: the value of %v as %s: %w", f.Partition, key, valueFormat, err)
				}
				if asJSON {
					return enc.Encode(struct {
						Partition int32 `json:"partition"`
						Key       any   `json:"key"`
						Value     any   `json:"value"`
					}{f.Partition, key, value})
				}
				_, err = fmt.Fprintf(stdout, "%d\t%v\t%v\n", f.Partition, key, value)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}
