package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/kafkatest"
)

// buildBinary builds a main package of this module into the test's temp dir.
func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-race", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// proc is one running copy of an application.
type proc struct {
	name    string
	cmd     *exec.Cmd
	done    chan error
	logPath string
}

func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan error, 1), logPath: log.Name()}
	go func() { p.done <- cmd.Wait(); log.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		p.done <- nil
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("log of %s:\n%s", name, b)
		}
	})
	return p
}

// terminate stops the process with SIGTERM and requires a clean exit.
func (p *proc) terminate(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("%s exited with %v after SIGTERM", p.name, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not exit within 60 s of SIGTERM", p.name)
	}
}

// kill stops the process with SIGKILL: no commit, no leave; the group notices after the
// session timeout.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.done
	p.done <- err
}

// Scale-out with separate processes: three copies of an application share a 6-partition
// input while data flows; a fourth joins, one is killed with SIGKILL, one stops cleanly.
// Afterwards no input record is missing from the output (at-least-once); duplicates (from
// the killed copy's uncommitted work) are counted and reported.
func TestScaleOutProcesses(t *testing.T) {
	r := newRelay(t, 6)
	in, out := r.in, r.out
	launch := func(name string) *proc { return r.launch(name) }

	const batches, per = 30, 400
	genDone := generateBatches(t, in, batches, per, 97, 300*time.Millisecond)

	a, b, c := launch("a"), launch("b"), launch("c")
	time.Sleep(3 * time.Second)
	d := launch("d")
	time.Sleep(3 * time.Second)
	b.kill(t)
	time.Sleep(2 * time.Second)
	c.terminate(t)
	<-genDone

	seen := map[string]int{}
	total := 0
	consumeUntil(t, out, 120*time.Second, func(r *kgo.Record) {
		seen[strings.TrimSuffix(string(r.Value), "!")]++
		total++
	}, func() bool { return len(seen) == batches*per })
	a.terminate(t)
	d.terminate(t)
	for id := range batches * per {
		if seen[strconv.Itoa(id)] == 0 {
			t.Fatalf("input record %d is missing from the output", id)
		}
	}
	t.Logf("all %d input records in the output after a join, a SIGKILL and a clean stop; %d duplicates",
		batches*per, total-batches*per)
}

// relay is one relayapp application over its own input and output topics, whose copies
// run as separate processes.
type relay struct {
	t              *testing.T
	brokers, bin   string
	in, out, appID string
}

// newRelay creates the topics, with partitions partitions each, and builds relayapp.
func newRelay(t *testing.T, partitions int32) *relay {
	t.Helper()
	adm := kafkatest.Admin(t)
	r := &relay{t: t, brokers: strings.Join(kafkatest.Bootstrap(t), ","),
		in: kafkatest.Topic(t, "in"), out: kafkatest.Topic(t, "out"), appID: kafkatest.Topic(t, "app")}
	kafkatest.CreateTopic(t, adm, r.in, partitions, nil)
	kafkatest.CreateTopic(t, adm, r.out, partitions, nil)
	r.bin = buildBinary(t, "github.com/eddy-streams/eddy/integration/relayapp")
	return r
}

// launch starts a copy named name, with its own state directory and the extra flags.
func (r *relay) launch(name string, extra ...string) *proc {
	args := append([]string{"-brokers", r.brokers, "-app-id", r.appID, "-input", r.in, "-output", r.out,
		"-state-dir", filepath.Join(r.t.TempDir(), name)}, extra...)
	return startProc(r.t, name, r.bin, args...)
}
