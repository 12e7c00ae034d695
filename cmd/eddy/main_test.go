package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// eddyCmd runs the command line and returns its exit code and output.
func eddyCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "Commands:"},
		{[]string{"help"}, 0, "Commands:"},
		{[]string{"frobnicate"}, 2, `no command "frobnicate"`},
		{[]string{"lag", "-help"}, 0, "-brokers"},
		{[]string{"lag", "-brokers", "127.0.0.1:1"}, 2, "give -app"},
		{[]string{"lag", "-app", "x", "-brokers", ""}, 2, "no brokers"},
		{[]string{"reset", "-brokers", "127.0.0.1:1", "-app", "x", "-to", "yesterday"}, 2, "RFC 3339"},
		{[]string{"status"}, 2, "give the instance's URL"},
		{[]string{"lag", "-nope"}, 2, "flag provided but not defined"},
		{[]string{"store"}, 2, "give list or dump"},
		{[]string{"store", "-help"}, 0, "eddy store dump -state-dir"},
		{[]string{"store", "dump", "-help"}, 0, "-value"},
		{[]string{"store", "dump", "-state-dir", "x", "-app", "y"}, 2, "give -store"},
		{[]string{"store", "dump", "-state-dir", "x", "-app", "y", "-store", "s", "-key", "utf16"}, 2, `-key "utf16": the formats are`},
		{[]string{"store", "list", "-app", "y"}, 2, "give -state-dir and -app"},
		{[]string{"store", "list", "-state-dir", os.TempDir(), "-app", "no-such-app"}, 1, "no local state at"},
	} {
		code, out, errOut := eddyCmd(c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.says) {
			t.Errorf("eddy %v: exit %d, want %d; output %q, want it to say %q", c.args, code, c.code, out+errOut, c.says)
		}
	}
}

// countApp counts words by key through a repartition topic into a store.
func countApp(in, out string) *topology.Topology {
	top := topology.New()
	s := topology.From(top, in, serde.String(), serde.String())
	counts := topology.Count(topology.GroupBy(s, func(_, v string) string { return v }, serde.String(), serde.String()), "counts")
	topology.To(counts.ToStream(), out, serde.String(), serde.Int64())
	return top
}

// The commands on a real broker, around an application's life: status while it runs,
// lag and topics after, a reset refused while it runs, a dry run that changes nothing,
// and a reset after which a rerun writes what the first run wrote.
func TestCommandsOnABroker(t *testing.T) {
	brokers := kafkatest.Bootstrap(t)
	seeds := strings.Join(brokers, ",")
	adm := kafkatest.Admin(t)
	in, out, app := kafkatest.Topic(t, "in"), kafkatest.Topic(t, "out"), kafkatest.Topic(t, "app")
	kafkatest.CreateTopic(t, adm, in, 2, nil)
	kafkatest.CreateTopic(t, adm, out, 1, nil)
	cl := kafkatest.Client(t)
	var recs []*kgo.Record
	for i := range 40 {
		recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "w%d", i%5)})
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	runOnce := func(serve bool, during func()) []string {
		t.Helper()
		opts := []eddy.Opt{eddy.ApplicationID(app), eddy.Brokers(brokers...), eddy.StateDir(stateDir), eddy.CommitInterval(100 * time.Millisecond)}
		if serve {
			opts = append(opts, eddy.ServeHTTP(addr))
		}
		a, err := eddy.New(countApp(in, out), opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		ends.WaitCaughtUp(t, brokers, app, time.Minute, in)
		during()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var kvs []string
		for _, r := range ends.Read(t, brokers, out, kgo.ReadCommitted()) {
			kvs = append(kvs, fmt.Sprintf("%s=%x", r.Key, r.Value))
		}
		return kvs
	}

	first := runOnce(true, func() {
		code, stdout, stderr := eddyCmd("status", addr)
		t.Logf("eddy status:\n%s", stdout)
		if code != 0 || !strings.Contains(stdout, "application "+app+": running, ready, 4 tasks") || !strings.Contains(stdout, in) {
			t.Errorf("eddy status: exit %d\n%s%s", code, stdout, stderr)
		}
		code, stdout, stderr = eddyCmd("reset", "-brokers", seeds, "-app", app)
		if code != 1 || !strings.Contains(stderr, "members: stop every instance") {
			t.Errorf("eddy reset of a running group: exit %d\n%s%s", code, stdout, stderr)
		}
		code, stdout, stderr = eddyCmd("store", "list", "-state-dir", stateDir, "-app", app)
		if code != 1 || !strings.Contains(stderr, "is running on "+stateDir+": stop it first") {
			t.Errorf("eddy store list of a running instance: exit %d\n%s%s", code, stdout, stderr)
		}
	})
	if len(first) != 40 {
		t.Fatalf("the first run wrote %d counts, want 40", len(first))
	}
	checkStoreDump(t, stateDir, app)

	code, stdout, stderr := eddyCmd("lag", "-brokers", seeds, "-app", app)
	t.Logf("eddy lag:\n%s", stdout)
	if code != 0 || !strings.Contains(stdout, in) || !strings.Contains(stdout, "-repartition") || !regexpTotal(stdout, 0) {
		t.Errorf("eddy lag after the run: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = eddyCmd("topics", "-brokers", seeds, "-app", app)
	if code != 0 || !strings.Contains(stdout, app+"-counts-changelog") || !strings.Contains(stdout, "compact") ||
		!strings.Contains(stdout, "-repartition") {
		t.Errorf("eddy topics: exit %d\n%s%s", code, stdout, stderr)
	}
	internal, err := internalTopics(t.Context(), adm, app)
	if err != nil || len(internal) != 3 || !slices.Contains(internal, app+"-control") {
		t.Fatalf("internal topics %v (%v), want a changelog, a repartition topic and the control topic", internal, err)
	}

	code, stdout, stderr = eddyCmd("reset", "-brokers", seeds, "-app", app, "-state-dir", stateDir, "-dry-run")
	if code != 0 || !strings.Contains(stdout, "would reset "+in+"/0 to 0") || !strings.Contains(stdout, "would delete topic "+internal[0]) ||
		!strings.Contains(stdout, "would delete local state "+filepath.Join(stateDir, app)) {
		t.Errorf("eddy reset -dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	if after, _ := internalTopics(t.Context(), adm, app); !slices.Equal(after, internal) {
		t.Errorf("the dry run deleted topics: %v, before %v", after, internal)
	}
	if _, stdout, _ := eddyCmd("lag", "-brokers", seeds, "-app", app); !regexpTotal(stdout, 0) {
		t.Errorf("the dry run moved offsets:\n%s", stdout)
	}

	code, stdout, stderr = eddyCmd("reset", "-brokers", seeds, "-app", app, "-state-dir", stateDir)
	if code != 0 || !strings.Contains(stdout, "reset "+app) {
		t.Fatalf("eddy reset: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stdout, _ := eddyCmd("lag", "-brokers", seeds, "-app", app); !strings.Contains(stdout, in) || !regexpTotal(stdout, 40) {
		t.Errorf("after the reset the inputs are not back at the start:\n%s", stdout)
	}
	// The topics' deletion completes on the broker's time: the rerun creates them anew.
	deadline := time.Now().Add(30 * time.Second)
	for after, _ := internalTopics(t.Context(), adm, app); len(after) > 0; after, _ = internalTopics(t.Context(), adm, app) {
		if time.Now().After(deadline) {
			t.Fatalf("internal topics still there 30 s after the reset: %v", after)
		}
		time.Sleep(100 * time.Millisecond) // polling the broker's deletion
	}
	all := runOnce(false, func() {})
	// Two count tasks write the one output partition: compare what they wrote, not how
	// it interleaved (each key's counts are in order either way: one task writes them).
	second := slices.Clone(all[len(first):])
	slices.Sort(second)
	slices.Sort(first)
	if !slices.Equal(second, first) {
		t.Errorf("the run after the reset wrote\n%v\nthe first wrote\n%v", second, first)
	}
}

// checkStoreDump reads the stopped instance's count store with eddy store: list shows
// its two slices with their five words, dump writes each word's count of 8 (as text and
// as JSON), and neither changes a file of the state directory.
func checkStoreDump(t *testing.T, stateDir, app string) {
	t.Helper()
	before := treeDigest(t, stateDir)
	code, stdout, stderr := eddyCmd("store", "list", "-state-dir", stateDir, "-app", app)
	t.Logf("eddy store list:\n%s", stdout)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	keys := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 5 || f[0] != "counts" || (f[1] != "1_0" && f[1] != "1_1") || f[3] == "-" {
			t.Errorf("eddy store list: line %q, want counts of task 1_0 or 1_1 with a changelog offset", l)
			continue
		}
		n, _ := strconv.Atoi(f[2])
		keys += n
	}
	if code != 0 || len(lines) != 3 || keys != 5 {
		t.Errorf("eddy store list: exit %d, %d keys in\n%s%s", code, keys, stdout, stderr)
	}

	code, stdout, stderr = eddyCmd("store", "dump", "-state-dir", stateDir, "-app", app, "-store", "counts", "-value", "int64")
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("eddy store dump: line %q", l)
		}
		got = append(got, f[1]+"="+f[2])
	}
	slices.Sort(got)
	if want := []string{`"w0"=8`, `"w1"=8`, `"w2"=8`, `"w3"=8`, `"w4"=8`}; code != 0 || !slices.Equal(got, want) {
		t.Errorf("eddy store dump: exit %d, %v, want %v\n%s", code, got, want, stderr)
	}
	code, stdout, stderr = eddyCmd("store", "dump", "-state-dir", stateDir, "-app", app, "-store", "counts", "-value", "int64", "-json", "-limit", "2")
	var entry struct {
		Task  string
		Key   string
		Value int64
	}
	lines = strings.Split(strings.TrimSpace(stdout), "\n")
	if err := json.Unmarshal([]byte(lines[0]), &entry); code != 0 || len(lines) != 2 || err != nil || !strings.HasPrefix(entry.Key, "w") || entry.Value != 8 {
		t.Errorf("eddy store dump -json -limit 2: exit %d, %+v (%v)\n%s%s", code, entry, err, stdout, stderr)
	}
	code, _, stderr = eddyCmd("store", "dump", "-state-dir", stateDir, "-app", app, "-store", "nothing")
	if code != 1 || !strings.Contains(stderr, `no store "nothing" here; the stores are: counts`) {
		t.Errorf("eddy store dump of a store that is not there: exit %d\n%s", code, stderr)
	}
	code, _, stderr = eddyCmd("store", "dump", "-state-dir", stateDir, "-app", app, "-store", "counts", "-key", "int64")
	if code != 1 || !strings.Contains(stderr, "as int64: serde: int64 needs 8 bytes, got 2; choose another -key") {
		t.Errorf("eddy store dump with a key format that does not fit: exit %d\n%s", code, stderr)
	}
	if after := treeDigest(t, stateDir); after != before {
		t.Errorf("eddy store changed the state directory:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// treeDigest lists every file under dir with its size, time and content hash.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s %x\n", path, info.Size(), info.ModTime().Format(time.RFC3339Nano), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// regexpTotal reports whether lag's output ends with a total of n.
func regexpTotal(out string, n int) bool {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	f := strings.Fields(lines[len(lines)-1])
	return len(f) == 2 && f[0] == "total" && f[1] == fmt.Sprint(n)
}

// The cluster commands on the broker's SASL_SSL listener: with the CA and the user they
// connect; with a wrong password they fail saying so.
func TestClusterCommandsOnASecuredListener(t *testing.T) {
	sec := kafkatest.SecuredListener(t)
	ca := os.Getenv("KAFKA_SASL_CA")
	args := func(password string) []string {
		return []string{"topics", "-brokers", strings.Join(sec.Brokers, ","), "-app", kafkatest.Topic(t, "app"), "-timeout", "10s",
			"-tls-ca", ca, "-sasl-mechanism", "PLAIN", "-sasl-user", sec.PlainUser, "-sasl-password", password}
	}
	if code, stdout, stderr := eddyCmd(args(sec.PlainSecret)...); code != 0 || !strings.Contains(stdout, "has no internal topics") {
		t.Errorf("eddy topics over SASL_SSL: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := eddyCmd(args("wrong")...); code != 1 || !strings.Contains(stderr, "SASL_AUTHENTICATION_FAILED") {
		t.Errorf("eddy topics with a wrong password: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := eddyCmd("lag", "-brokers", "x:1", "-app", "a", "-sasl-mechanism", "KERBEROS"); code != 2 || !strings.Contains(stderr, `-sasl-mechanism "KERBEROS"`) {
		t.Errorf("eddy lag -sasl-mechanism KERBEROS: exit %d\n%s", code, stderr)
	}
}
