package eddy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// panicky panics where it is told to: in Init, or in a punctuation.
type panicky struct {
	where string
	ctx   processor.Context[string, string]
}

func (p *panicky) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	if p.where == "init" {
		panic("init went wrong")
	}
	if p.where == "punctuation" {
		ctx.Schedule(10*time.Millisecond, func(time.Time) error { panic("tick went wrong") })
	}
	return nil
}
func (p *panicky) Close() error { return nil }
func (p *panicky) Process(r processor.Record[string, string]) error {
	return p.ctx.Forward(r)
}

// A panic outside a record — in a processor's Init, in a punctuator — stops the
// application with an error that says where; it does not take the process down.
func TestPanicsOutsideRecordsStopRunNotTheProcess(t *testing.T) {
	for _, where := range []string{"init", "punctuation"} {
		t.Run(where, func(t *testing.T) {
			brokers := startEmbedded(t, map[string]int32{"in": 1, "out": 1})
			produce(t, brokers, "in", [2]string{"k", "v"})
			top := topology.New()
			out := topology.Process(topology.From(top, "in", serde.String(), serde.String()), "panicky",
				func() processor.Processor[string, string, string, string] { return &panicky{where: where} })
			topology.To(out, "out", serde.String(), serde.String())
			app, err := eddy.New(top, eddy.ApplicationID("panics-"+where), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = app.Run(ctx)
			if err == nil || !strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), where[:4]) {
				t.Fatalf("Run = %v, want an error naming the panic in the %s", err, where)
			}
		})
	}
}
