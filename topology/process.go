package topology

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
)

// Process runs a processor of your own on every record of s. supplier is called once per
// task, so each task has its own processor instance. The processor's forwarded records form
// the returned stream; ForwardTo reaches a child by its operator name.
func Process[K, V, KO, VO any](s Stream[K, V], name string, supplier processor.Supplier[K, V, KO, VO]) Stream[KO, VO] {
	if supplier == nil {
		s.t.g.Errorf("process %s: nil supplier", name)
	}
	return processorNode(s, "KSTREAM-PROCESSOR", []Option{Named(name)}, func(tb *graph.TaskBuild, out *outlets[KO, VO]) (next[K, V], error) {
		fs, err := out.compileEach(tb)
		if err != nil {
			return nil, err
		}
		all, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		ctx := &procContext[KO, VO]{env: tb.Env, forward: all, byName: map[string]next[KO, VO]{}}
		for i, n := range out.nodes {
			ctx.byName[n.Name] = fs[i]
		}
		p := supplier()
		if p == nil {
			return nil, fmt.Errorf("process %s: the supplier returned a nil processor", name)
		}
		if err := p.Init(ctx); err != nil {
			return nil, fmt.Errorf("process %s: init: %w", name, err)
		}
		tb.OnClose(func() error {
			if err := p.Close(); err != nil {
				return fmt.Errorf("process %s: close: %w", name, err)
			}
			return nil
		})
		return func(r processor.Record[K, V]) error {
			if err := p.Process(r); err != nil {
				return fmt.Errorf("process %s: %w", name, err)
			}
			return nil
		}, nil
	})
}

// procContext is a processor's Context: its children and the task's environment.
type procContext[K, V any] struct {
	env     graph.Env
	forward next[K, V]
	byName  map[string]next[K, V]
}

var _ processor.Context[string, int] = (*procContext[string, int])(nil)

func (c *procContext[K, V]) Forward(r processor.Record[K, V]) error { return c.forward(r) }

func (c *procContext[K, V]) ForwardTo(child string, r processor.Record[K, V]) error {
	f, ok := c.byName[child]
	if !ok {
		return fmt.Errorf("forward: no child named %q", child)
	}
	return f(r)
}

func (c *procContext[K, V]) Schedule(interval time.Duration, fn processor.Punctuator) func() {
	return c.env.Schedule(interval, fn)
}

func (c *procContext[K, V]) Metadata() (processor.Metadata, bool) { return c.env.Metadata() }
func (c *procContext[K, V]) TaskID() processor.TaskID             { return c.env.TaskID() }
func (c *procContext[K, V]) Watermark() time.Time                 { return c.env.Watermark() }
func (c *procContext[K, V]) ApplicationID() string                { return c.env.ApplicationID() }
