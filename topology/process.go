package topology

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// Process runs a processor of your own on every record of s. supplier is called once per
// task, so each task has its own processor instance. The processor's forwarded records form
// the returned stream; ForwardTo reaches a child by its operator name. The key may change,
// so a stateful operation downstream repartitions first.
//
// name is the operator's name (so Process takes no Named); the one option is Stores, which
// names the state stores the processor may open. A processor that implements
// processor.EndOfInput is told when a bounded run reaches the end of its task's input.
func Process[K, V, KO, VO any](s Stream[K, V], name string, supplier processor.Supplier[K, V, KO, VO], opts ...Option) Stream[KO, VO] {
	if supplier == nil {
		s.t.g.Errorf("process %s: nil supplier", name)
	}
	c := s.t.configure(opProcess, opts)
	if name == "" {
		name = s.t.g.NextName("KSTREAM-PROCESSOR")
	}
	var node *graph.Node
	out := processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[KO, VO]) (next[K, V], error) {
		fs, err := out.compileEach(tb)
		if err != nil {
			return nil, err
		}
		all, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		ctx := &procContext[KO, VO]{env: tb.Env, node: node, forward: all, byName: map[string]next[KO, VO]{},
			op: graph.OpFor(node), slot: tb.Env.OpSlot()}
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
		if e, ok := p.(processor.EndOfInput); ok && tb.Env.Bounded() {
			// Registered after the children compiled: it runs before their own ends.
			tb.OnEndOfInput(func() error {
				if err := e.EndOfInput(); err != nil {
					return fmt.Errorf("process %s: end of input: %w", name, err)
				}
				return nil
			})
		}
		tb.OnClose(func() error {
			if err := p.Close(); err != nil {
				return fmt.Errorf("process %s: close: %w", name, err)
			}
			return nil
		})
		return func(r processor.Record[K, V]) error {
			if err := p.Process(r); err != nil {
				var re *graph.RecordError
				if errors.As(err, &re) {
					return err // from further down the chain, through Forward
				}
				return failed(name, err)
			}
			return nil
		}, nil
	})
	node = out.node
	connectStores(s.t, node, c.stores)
	out.keyChanged = true
	return out
}

// procContext is a processor's Context: its children and the task's environment.
type procContext[K, V any] struct {
	env     graph.Env
	node    *graph.Node
	forward next[K, V]
	byName  map[string]next[K, V]
	// op and slot: after a forward returns, the processor's own code runs again.
	op   *graph.Op
	slot **graph.Op
}

var _ processor.Context[string, int] = (*procContext[string, int])(nil)

func (c *procContext[K, V]) Forward(r processor.Record[K, V]) error {
	err := c.forward(r)
	*c.slot = c.op
	return err
}

func (c *procContext[K, V]) ForwardTo(child string, r processor.Record[K, V]) error {
	f, ok := c.byName[child]
	if !ok {
		return fmt.Errorf("forward: no child named %q", child)
	}
	err := f(r)
	*c.slot = c.op
	return err
}

func (c *procContext[K, V]) Schedule(interval time.Duration, fn processor.Punctuator) func() {
	return c.env.Schedule(interval, fn)
}

func (c *procContext[K, V]) Store(name string) (store.Bytes, error) {
	if !slices.Contains(c.node.Stores, name) {
		if _, err := c.env.GlobalStore(name); err == nil {
			return nil, fmt.Errorf("processor %s opened store %q, a global table's store, as a task store: open it with GlobalTable.Store().Open(ctx), "+
				"which reads it (it is read-only) and needs no Stores option", c.node.Name, name)
		}
		return nil, fmt.Errorf("processor %s opened store %q without naming it: add topology.Stores(%q) to its Process", c.node.Name, name, name)
	}
	return c.env.Store(name)
}

// globalStore lets GlobalStore.Open reach the instance's global stores, which need not be
// named in Stores (globalContext).
func (c *procContext[K, V]) globalStore(name string) (graph.GlobalReader, error) {
	return c.env.GlobalStore(name)
}

func (c *procContext[K, V]) ScheduleEventTime(interval time.Duration, fn processor.Punctuator) func() {
	return c.env.ScheduleEventTime(interval, fn)
}

func (c *procContext[K, V]) Metadata() (processor.Metadata, bool) { return c.env.Metadata() }
func (c *procContext[K, V]) TaskID() processor.TaskID             { return c.env.TaskID() }
func (c *procContext[K, V]) Watermark() time.Time                 { return c.env.Watermark() }
func (c *procContext[K, V]) ApplicationID() string                { return c.env.ApplicationID() }
