package topology

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// kvContext hands out one task's slice of a store, as the runtime does.
type kvContext struct{ kv *state.KV }

func (c kvContext) Store(string) (store.Bytes, error) { return c.kv, nil }

// versionModel is a versioned table by its definition: every update kept, the version at
// t the update with the greatest time ≤ t (the later one on a tie), nothing older than the
// table's time less the retention.
type versionModel struct {
	retention int64
	observed  int64
	updates   map[string][]modelUpdate
}

type modelUpdate struct {
	ts      int64
	value   string
	deleted bool
}

func (m *versionModel) at(k string, t int64) (string, bool) {
	if m.observed == noTableTime || t < m.observed-m.retention {
		return "", false
	}
	best, found := modelUpdate{}, false
	for _, u := range m.updates[k] {
		if u.ts <= t && (!found || u.ts >= best.ts) {
			best, found = u, true
		}
	}
	if !found || best.deleted {
		return "", false
	}
	return best.value, true
}

func (m *versionModel) latest(k string) (modelUpdate, bool) {
	best, found := modelUpdate{}, false
	for _, u := range m.updates[k] {
		if !found || u.ts >= best.ts {
			best, found = u, true
		}
	}
	return best, found
}

// put returns what the store must report: dropped, or whether the update is the key's
// newest, and the value it replaces.
func (m *versionModel) put(k string, u modelUpdate) putResult[string] {
	if m.observed != noTableTime && u.ts < m.observed-m.retention {
		return putResult[string]{dropped: true}
	}
	m.observed = max(m.observed, u.ts)
	var res putResult[string]
	if l, ok := m.latest(k); !ok || u.ts >= l.ts {
		res.latest = true
		if ok && !l.deleted {
			res.old, res.hadOld = l.value, true
		}
	}
	m.updates[k] = append(m.updates[k], u)
	return res
}

// The versioned store against its definition, on random out-of-order updates and
// deletions with duplicate times, over the write buffer and the database (commits in
// between): every lookup as of any time, every latest value, what each update reports.
func TestVersionedStoreMatchesModel(t *testing.T) {
	for _, retention := range []int64{50, 300, 100000} {
		t.Run(fmt.Sprintf("retention %d ms", retention), func(t *testing.T) {
			mgr := state.NewManager(store.NewMemory())
			kv, err := mgr.Open(0, 0, "v")
			if err != nil {
				t.Fatal(err)
			}
			st := &versionedStore[string, string]{name: "v", ks: serde.String(), vs: serde.String(), retention: retention}
			vkv, err := st.open(kvContext{kv})
			if err != nil {
				t.Fatal(err)
			}
			m := &versionModel{retention: retention, observed: noTableTime, updates: map[string][]modelUpdate{}}
			rng := rand.New(rand.NewPCG(1, uint64(retention)))
			keys := []string{"a", "b", "c"}
			for i := range 3000 {
				k := keys[rng.IntN(len(keys))]
				u := modelUpdate{ts: int64(i/2 + rng.IntN(200) - 100), value: fmt.Sprintf("v%d", i), deleted: rng.IntN(5) == 0}
				if rng.IntN(10) == 0 && m.observed != noTableTime {
					u.ts = m.observed // a tie with the newest update
				}
				want := m.put(k, u)
				got, err := vkv.put(k, u.value, u.deleted, time.UnixMilli(u.ts), true)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("update %d (%s@%d deleted %v): got %+v, want %+v", i, k, u.ts, u.deleted, got, want)
				}
				if i%97 == 0 {
					if err := mgr.Commit([]*state.KV{kv}, []state.Checkpoint{{Offset: int64(i)}}); err != nil {
						t.Fatal(err)
					}
				}
				for range 4 {
					q := keys[rng.IntN(len(keys))]
					at := m.observed - retention - 20 + int64(rng.IntN(int(min(retention, 400))+60))
					wv, wok := m.at(q, at)
					gv, gok, err := vkv.getAt(q, time.UnixMilli(at))
					if err != nil {
						t.Fatal(err)
					}
					if gv != wv || gok != wok {
						t.Logf("updates of %s: %+v (observed %d)", q, m.updates[q], m.observed)
						t.Fatalf("after update %d: %s as of %d = %q, %v; want %q, %v", i, q, at, gv, gok, wv, wok)
					}
				}
				l, ok := m.latest(k)
				gv, gok, err := vkv.get(k)
				if err != nil {
					t.Fatal(err)
				}
				if wok := ok && !l.deleted; gok != wok || wok && gv != l.value {
					t.Fatalf("after update %d: latest of %s = %q, %v; want %+v", i, k, gv, gok, l)
				}
			}
			// Each live key's latest value, and nothing for the others.
			seen := map[string]string{}
			if err := vkv.each(func(k, v string) error { seen[k] = v; return nil }); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				l, ok := m.latest(k)
				if v, in := seen[k]; in != (ok && !l.deleted) || in && v != l.value {
					t.Errorf("each: %s = %q (%v), want %+v", k, v, in, l)
				}
			}
		})
	}
}

// Expiry bounds the store: with a short retention, the versions of a key updated many
// times in order are deleted as the table's time moves on; the latest stays.
func TestVersionedStoreExpires(t *testing.T) {
	mgr := state.NewManager(store.NewMemory())
	kv, err := mgr.Open(0, 0, "v")
	if err != nil {
		t.Fatal(err)
	}
	st := &versionedStore[string, string]{name: "v", ks: serde.String(), vs: serde.String(), retention: 100}
	vkv, err := st.open(kvContext{kv})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if _, err := vkv.put("k", fmt.Sprint(i), false, time.UnixMilli(int64(i*10)), false); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	it, err := kv.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	// The time, the latest, and about retention/10 versions with their index entries
	// (expiry runs once the horizon has moved a sixteenth of the retention).
	if n > 2+2*(100/10+2) {
		t.Errorf("%d keys after 1000 updates with 100 ms retention at 10 ms apart: expiry does not bound the store", n)
	}
	if v, ok, err := vkv.getAt("k", time.UnixMilli(9990-50)); err != nil || !ok || v != "994" {
		t.Errorf("as of 9940: %q, %v, %v; want 994", v, ok, err)
	}
	if _, ok, err := vkv.getAt("k", time.UnixMilli(9990-101)); err != nil || ok {
		t.Errorf("as of 9889, past the retention: found %v, %v; want nothing", ok, err)
	}
}
