package eddy

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/internal/sprestore"
	"github.com/eddy-streams/eddy/savepoint"
	"github.com/eddy-streams/eddy/serde"
)

// RestoreOpt configures RestoreSavepoint.
type RestoreOpt interface{ applyRestore(*restoreConfig) }

type restoreFunc func(*restoreConfig)

func (f restoreFunc) applyRestore(c *restoreConfig) { f(c) }

type restoreConfig struct {
	o sprestore.Options
	// converters make each store's conversion once the savepoint's application id is
	// known (its changelog topic names the old serdes' subjects).
	converters map[string]func(oldApp string) func(key, value []byte) ([]byte, error)
}

// AllowNonRestoredState lets RestoreSavepoint leave out the savepoint's state for stores
// the topology no longer has (and its records in flight to internal topics it no longer
// has), as Flink's --allowNonRestoredState does. Without it that is an error naming them.
func AllowNonRestoredState() RestoreOpt {
	return restoreFunc(func(c *restoreConfig) { c.o.AllowNonRestored = true })
}

// ReplaceState lets RestoreSavepoint restore into an application that has state: its
// group (committed offsets) and its changelog and internal topics are deleted first, and
// the instances' local state of the old topics is discarded when they start (the new
// changelogs are other topics). Without it an application with state is refused.
func ReplaceState() RestoreOpt {
	return restoreFunc(func(c *restoreConfig) { c.o.Replace = true })
}

// InputOffsets maps each input offset of the savepoint to the offset to resume from, for
// a restore on another cluster whose copies of the inputs have other offsets (MirrorMaker
// 2's checkpoints give the translation). Without it the savepoint's offsets are used as
// they are; an offset outside a partition's is an error.
func InputOffsets(fn func(topic string, partition int32, offset int64) (int64, error)) RestoreOpt {
	return restoreFunc(func(c *restoreConfig) { c.o.InputOffsets = fn })
}

// ConvertStoreBytes rewrites the values of store during the restore: fn gets each entry's
// key and value as the savepoint holds them (the store's encodings) and returns the new
// value (nil drops the entry). For a store whose value type or serde changed; see
// ConvertStore for the typed form.
func ConvertStoreBytes(store string, fn func(key, value []byte) ([]byte, error)) RestoreOpt {
	return restoreFunc(func(c *restoreConfig) {
		c.converters[store] = func(string) func(key, value []byte) ([]byte, error) { return fn }
	})
}

// ConvertStore converts the values of a key-value store (a table's, an aggregation's, or
// NewKeyValueStore's) whose value type or serde changed: each value is decoded with old,
// converted by fn with its key (decoded with keys), and encoded with new. Serdes bound to
// a schema registry use the old application's changelog topic for old and the new one's
// for new. fn's error stops the restore, naming the key.
func ConvertStore[K, Old, New any](store string, keys serde.Serde[K], old serde.Serde[Old], new serde.Serde[New], fn func(K, Old) (New, error)) RestoreOpt {
	return restoreFunc(func(c *restoreConfig) {
		newApp := c.o.AppID
		c.converters[store] = func(oldApp string) func(key, value []byte) ([]byte, error) {
			from, to := oldApp+"-"+store+"-changelog", newApp+"-"+store+"-changelog"
			ks := serde.ForTopic(keys, from, true)
			olds, news := serde.ForTopic(old, from, false), serde.ForTopic(new, to, false)
			return func(key, value []byte) ([]byte, error) {
				k, err := ks.Decode(key)
				if err != nil {
					return nil, fmt.Errorf("decoding the key: %w", err)
				}
				v, err := olds.Decode(value)
				if err != nil {
					return nil, fmt.Errorf("decoding the value with the old serde: %w", err)
				}
				nv, err := fn(k, v)
				if err != nil {
					return nil, err
				}
				return news.AppendEncode(nil, nv)
			}
		}
	})
}

// SavepointReport says what RestoreSavepoint wrote.
type SavepointReport struct {
	// Stores are the stores restored, with their entry counts.
	Stores []StoreRestore
	// Empty are the topology's stores the savepoint does not have: they start empty.
	Empty []string
	// Dropped are the savepoint's stores and internal topics the topology does not have
	// (left out under AllowNonRestoredState), and its inputs the topology no longer reads.
	Dropped []string
	// Pending is the number of records in flight at the cut that were written into the
	// internal topics.
	Pending int64
	// Offsets is the number of input partitions whose offsets were set.
	Offsets int
}

// StoreRestore is one store restored from a savepoint.
type StoreRestore struct {
	Name    string
	Entries int64
	// From and To are the store's task counts in the savepoint and now: they differ when
	// the input's partition count changed, and each key's state moved to the task of its
	// murmur2 partition.
	From, To int32
	// Converted reports whether ConvertStore (or ConvertStoreBytes) rewrote its values.
	Converted bool
}

// RestoreSavepoint starts the application from the savepoint at fsys's root (os.DirFS
// of a directory, or object storage behind an fs.FS): call it once, before Run, with
// every instance stopped. It checks the savepoint whole (a truncated or corrupted one is
// refused, and nothing is changed), pairs its stores with the topology's by name (a store
// the savepoint has and the topology has not is an error unless AllowNonRestoredState; a
// store it has not starts empty), creates the application's topics as Run would, writes
// every store's entries into its changelog — each key to the partition of its murmur2
// hash when the partition count changed, and converted where ConvertStore says — and the
// records in flight at the cut into the internal topics, in one transaction, and last
// sets the group's offsets and partition times to the savepoint's. Run then restores the
// state from the changelogs and resumes there.
//
// The application restored into has its own id (or the same, with ReplaceState), and
// may be a new version of the topology, on this cluster or another (InputOffsets).
// Stores are matched by name: name them (the name given to Count, Reduce, Aggregate,
// Table, NewKeyValueStore…) rather than leaving eddy to number them, or a change in the
// topology's shape renames them.
func (a *App) RestoreSavepoint(ctx context.Context, fsys fs.FS, opts ...RestoreOpt) (SavepointReport, error) {
	a.mu.Lock()
	running := a.mu.state != 0
	a.mu.Unlock()
	if running {
		return SavepointReport{}, fmt.Errorf("eddy: RestoreSavepoint is called before Run")
	}
	sp, err := savepoint.Open(fsys)
	if err != nil {
		return SavepointReport{}, err
	}
	g := a.topo.Graph()
	rc := &restoreConfig{converters: map[string]func(string) func(key, value []byte) ([]byte, error){}}
	rc.o.AppID = a.cfg.appID
	for _, o := range opts {
		if o != nil {
			o.applyRestore(rc)
		}
	}
	if len(rc.converters) > 0 {
		rc.o.Convert = map[string]func(key, value []byte) ([]byte, error){}
		for name, mk := range rc.converters {
			rc.o.Convert[name] = mk(sp.Manifest.ApplicationID)
		}
	}
	for _, st := range g.Stores() {
		if st.Global == nil {
			rc.o.Stores = append(rc.o.Stores, st.Name)
		}
	}
	cfg := a.cfg.runtime("", "", nil)
	rc.o.ClientOpts = append([]kgo.Opt{kgo.SeedBrokers(a.cfg.brokers...)}, a.cfg.clientOpts...)
	rc.o.Layout = func(ctx context.Context) (*runtime.Layout, error) { return runtime.PlanLayout(ctx, cfg, g) }
	rep, err := sprestore.Restore(ctx, sp, rc.o)
	out := SavepointReport{Empty: rep.Empty, Dropped: rep.Dropped, Pending: rep.Pending, Offsets: rep.Offsets}
	for _, s := range rep.Stores {
		out.Stores = append(out.Stores, StoreRestore(s))
	}
	return out, publicError(runtime.NotAuthorized(err, a.cfg.appID))
}
