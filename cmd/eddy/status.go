package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eddy-streams/eddy"
)

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "<url of an instance's status endpoint, e.g. http://localhost:8080>", stderr)
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the instance")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: give the instance's URL (eddy.ServeHTTP's address, or where its Handler is mounted)", errUsage)
	}
	url := strings.TrimSuffix(fs.Arg(0), "/")
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		url = "http://" + url
	}
	if !strings.HasSuffix(url, "/status") {
		url += "/status"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: is it an eddy status endpoint?", url, resp.Status)
	}
	var st eddy.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("%s: not an eddy status: %w", url, err)
	}
	return printStatus(stdout, st, time.Now())
}

// printStatus writes a status as a header line, a table of tasks and a table of their
// partitions.
func printStatus(w io.Writer, st eddy.Status, now time.Time) error {
	fmt.Fprintf(w, "application %s: %s", st.Application, st.State)
	if st.Ready {
		fmt.Fprint(w, ", ready")
	}
	fmt.Fprintf(w, ", %d tasks\n\n", len(st.Tasks))
	if len(st.Tasks) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tWORKER\tSTATE\tBUSY\tBACKPRESSURED\tIDLE\tRECORDS/S\tWATERMARK\tWATERMARK LAG\tSTORES")
	for _, t := range st.Tasks {
		wm, lag := "-", "-"
		if t.Watermark != nil {
			wm = t.Watermark.UTC().Format(time.RFC3339Nano)
			lag = now.Sub(*t.Watermark).Round(time.Millisecond).String()
		}
		var stores []string
		for _, s := range t.Stores {
			stores = append(stores, fmt.Sprintf("%s (%s, %.0f%% cached)", s.Name, bytesString(s.Bytes), 100*s.HitRatio))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f ms/s\t%.0f ms/s\t%.0f ms/s\t%.1f\t%s\t%s\t%s\n", t.ID, t.Worker, t.State,
			t.Busy, t.Backpressured, t.Idle, t.RecordsPerSecond, wm, lag, strings.Join(stores, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tTOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tLAG TIME\tQUEUED\tWATERMARK\tFLAGS")
	for _, t := range st.Tasks {
		for _, p := range t.Partitions {
			wm, lagTime := "-", "?"
			if p.Watermark != nil {
				wm = p.Watermark.UTC().Format(time.RFC3339Nano)
			}
			if p.LagTime != nil {
				lagTime = time.Duration(*p.LagTime).Round(time.Millisecond).String()
			}
			var flags []string
			for _, f := range []struct {
				on   bool
				name string
			}{{p.Internal, "internal"}, {p.Idle, "idle"}, {p.Paused, "paused"}} {
				if f.on {
					flags = append(flags, f.name)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.ID, p.Topic, p.Partition, known(p.Committed), known(p.End),
				known(p.Lag), lagTime, p.Queued, wm, strings.Join(flags, ","))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var restores [][]string
	for _, t := range st.Tasks {
		for _, r := range t.Restores {
			restores = append(restores, []string{t.ID, r.Store, fmt.Sprintf("%s/%d", r.Topic, r.Partition),
				fmt.Sprintf("%.0f%%", 100*r.Progress), fmt.Sprint(r.Remaining), fmt.Sprintf("%.0f", r.Rate)})
		}
	}
	if len(restores) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTORE\tCHANGELOG\tDONE\tREMAINING\tRECORDS/S")
	for _, r := range restores {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// bytesString is n bytes in the largest unit that keeps it at least 1.
func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// known is n, or "?" for -1 (not known).
func known(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}
