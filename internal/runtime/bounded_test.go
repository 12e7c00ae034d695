package runtime

import (
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
)

// A task reports its end (runs its end-of-input functions) once per run: again after an
// abort revived it, since the end it reported was rolled back, but not when it moved to
// another worker after its end was committed (that would repeat a table's final values).
func TestEndOfInputReportedOncePerRun(t *testing.T) {
	ends := 0
	g := graph.New()
	g.Add(&graph.Node{Name: "src", Kind: graph.Source, Topics: []string{"in"}, Build: func(tb *graph.TaskBuild) (graph.Handler, error) {
		tb.OnEndOfInput(func() error { ends++; return nil })
		return func(*kgo.Record) error { return nil }, nil
	}})
	w := &worker{cfg: &Config{Bounded: true}, log: slog.New(slog.DiscardHandler),
		plan: &topicPlan{finished: map[processor.TaskID]bool{}}}
	newTask := func() *task {
		tk := &task{w: w, id: processor.TaskID{Partition: 0}}
		tk.parts = []*partition{{topic: "in", next: -1, end: 5, clock: timeState{done: true}, task: tk}}
		var err error
		if tk.g, err = g.BuildTask(0, tk); err != nil {
			t.Fatal(err)
		}
		return tk
	}
	tk := newTask()
	if err := w.finishTask(tk); err != nil || ends != 1 {
		t.Fatalf("finishTask = %v, ends reported %d; want 1", err, ends)
	}
	tk = newTask() // revived after an abort: the end was not committed
	if err := w.finishTask(tk); err != nil || ends != 2 {
		t.Fatalf("after an abort: finishTask = %v, ends reported %d; want 2", err, ends)
	}
	w.plan.finished[tk.id] = true // the end is committed; the task moves to another worker
	if err := w.finishTask(newTask()); err != nil || ends != 2 {
		t.Errorf("after the end was committed: finishTask = %v, ends reported %d; want still 2", err, ends)
	}
}
