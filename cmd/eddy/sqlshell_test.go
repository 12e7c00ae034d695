package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/kafkatest"
)

// buildEddy builds the eddy command into a temporary directory.
func buildEddy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "eddy")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The shell in a real terminal (tmux), as a user meets it: `eddy sql` alone, on the
// embedded broker; a datagen table; a windowed query whose rows grow as windows close;
// a regular count updating its rows in place; Q stops each; QUIT leaves.
func TestSQLShellInATerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("EDDY_REQUIRE_TMUX") == "1" {
			t.Fatal("EDDY_REQUIRE_TMUX=1 and no tmux")
		}
		t.Skip("no tmux (scripts/test installs it under CI)")
	}
	bin := buildEddy(t)
	home := t.TempDir()
	session := fmt.Sprintf("eddy-sql-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", session}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cmd := fmt.Sprintf("env -u KAFKA_BOOTSTRAP HOME=%s %s sql; echo SHELL-EXITED-$?; sleep 30", home, bin)
	tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "40", cmd)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", session, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", session) }
	waitScreen := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if s := screen(); ok(s) {
				return s
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("waiting for %s; the screen:\n%s", what, screen())
		return ""
	}
	typeLine := func(text string) {
		t.Helper()
		// tmux takes an argument ending in ";" for its command separator: the
		// semicolon goes on its own, escaped.
		body, semicolon := strings.CutSuffix(text, ";")
		tmux("send-keys", "-t", session, "-l", body)
		if semicolon {
			tmux("send-keys", "-t", session, `\;`)
		}
		tmux("send-keys", "-t", session, "Enter")
	}
	waitScreen("the prompt", func(s string) bool { return strings.Contains(s, "eddy SQL>") })

	typeLine("CREATE TABLE clicks (user_id STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)")
	typeLine("  WITH ('connector' = 'datagen', 'rows-per-second' = '20',")
	typeLine("  'fields.user_id.expression' = 'CONCAT(''u'', CAST(RAND_INTEGER(3) AS STRING))');")
	waitScreen("the table created", func(s string) bool { return strings.Contains(s, "[INFO] table clicks created") })

	// A windowed count: one row per closed 1-second window, more as time goes on.
	typeLine("SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;")
	window := regexp.MustCompile(`\|\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.000 \|\s+(\d+) \|`)
	s := waitScreen("two windows", func(s string) bool { return len(window.FindAllString(s, -1)) >= 2 })
	if !strings.Contains(s, "table mode") || !strings.Contains(s, "Q: stop the query") {
		t.Errorf("the table view's status line is missing:\n%s", s)
	}
	first := len(window.FindAllString(s, -1))
	waitScreen("more windows", func(s string) bool { return len(window.FindAllString(s, -1)) > first })
	tmux("send-keys", "-t", session, "q")
	waitScreen("the query stopped", func(s string) bool {
		return strings.Contains(s, "the query has ended") && strings.HasSuffix(strings.TrimSpace(s), "eddy SQL>")
	})

	// A regular count: three rows, their counts updated in place.
	typeLine("SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id;")
	count := regexp.MustCompile(`\|\s+(u[012]) \|\s+(\d+) \|`)
	total := func(s string) (rows, sum int) {
		for _, m := range count.FindAllStringSubmatch(s, -1) {
			n, _ := strconv.Atoi(m[2])
			rows, sum = rows+1, sum+n
		}
		return rows, sum
	}
	s = waitScreen("three users", func(s string) bool { r, _ := total(s); return r == 3 })
	_, before := total(s)
	s = waitScreen("the counts to grow", func(s string) bool { r, n := total(s); return r == 3 && n >= before+20 })
	if r, _ := total(s); r != 3 {
		t.Errorf("the updated counts are not in place (%d rows):\n%s", r, s)
	}
	tmux("send-keys", "-t", session, "q")
	waitScreen("the second query stopped", func(s string) bool {
		return strings.Count(s, "the query has ended") >= 1 && strings.HasSuffix(strings.TrimSpace(s), "eddy SQL>")
	})

	typeLine("QUIT;")
	waitScreen("the shell to exit", func(s string) bool { return strings.Contains(s, "SHELL-EXITED-0") })
	if _, err := os.Stat(filepath.Join(home, ".eddy_sql_history")); err != nil {
		t.Errorf("no history file: %v", err)
	}
}

// The course's restart exercise: an INSERT job run by `eddy sql -f`, killed (SIGKILL)
// while it counts, and started again with the same file, resumes its count: the upsert
// table's last value per key is the count of every click, none lost or counted twice
// (INSERT jobs are exactly-once by default, as Flink's checkpointed state is).
func TestSQLJobKilledAndRestarted(t *testing.T) {
	brokers := kafkatest.Bootstrap(t)
	bin := buildEddy(t)
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	in, out := "clicks-"+suffix, "counts-"+suffix
	if _, err := kadm.NewClient(client).CreateTopic(ctx, 2, 1, nil, in); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "job.sql")
	if err := os.WriteFile(script, fmt.Appendf(nil, `
CREATE TABLE clicks (user_id STRING, url STRING) WITH ('connector' = 'kafka', 'topic' = '%s', 'format' = 'json');
CREATE TABLE counts (user_id STRING, n BIGINT, PRIMARY KEY (user_id) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = '%s', 'key.format' = 'raw', 'value.format' = 'json');
INSERT INTO counts SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;
`, in, out), 0o644); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	startJob := func() *exec.Cmd {
		cmd := exec.Command(bin, "sql", "-brokers", strings.Join(brokers, ","), "-state-dir", stateDir, "-f", script)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			v := fmt.Sprintf(`{"user_id": "u%d", "url": "/p/%d"}`, i%4, i)
			if err := client.ProduceSync(ctx, &kgo.Record{Topic: in, Key: []byte(fmt.Sprint(i % 4)), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// latest reads the counts topic: each user's last count.
	latest := func() map[string]string {
		got := map[string]string{}
		r, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ends, err := kadm.NewClient(r).ListEndOffsets(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for n := int64(0); n < total && pctx.Err() == nil; {
			r.PollFetches(pctx).EachRecord(func(rec *kgo.Record) {
				n++
				got[string(rec.Key)] = string(rec.Value)
			})
		}
		return got
	}
	waitCounts := func(want string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		var got map[string]string
		for time.Now().Before(deadline) {
			got = latest()
			if fmt.Sprint(got) == want {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("counts %v, want %s", got, want)
	}
	job := startJob()
	produce(0, 400)
	waitCounts(`map[u0:{"user_id":"u0","n":100} u1:{"user_id":"u1","n":100} u2:{"user_id":"u2","n":100} u3:{"user_id":"u3","n":100}]`)
	produce(400, 600)
	if err := job.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = job.Wait()
	produce(600, 800)
	job = startJob()
	defer func() {
		_ = job.Process.Signal(syscall.SIGTERM)
		_ = job.Wait()
	}()
	waitCounts(`map[u0:{"user_id":"u0","n":200} u1:{"user_id":"u1","n":200} u2:{"user_id":"u2","n":200} u3:{"user_id":"u3","n":200}]`)
}
