package serde

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// An id the registry did not know is asked for again once its "not found" expires: a
// schema registered since (or a lagging replica catching up) is then found. Ids below 1
// are refused without a request, and garbage ids do not grow the cache without bound.
func TestRegistryForgetsNotFound(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	reg, err := NewRegistry(RegistryURLs(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	reg.notFoundFor = 20 * time.Millisecond
	if _, err := reg.schemaByID(t.Context(), 1); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("id 1 before it exists: %v", err)
	}
	fake.SeedSchema("s", 1, 1, sr.Schema{Schema: `"string"`})
	if _, err := reg.schemaByID(t.Context(), 1); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("id 1 within its not-found time: %v, want the remembered answer", err)
	}
	time.Sleep(30 * time.Millisecond)
	if sch, err := reg.schemaByID(t.Context(), 1); err != nil || sch.Schema != `"string"` {
		t.Fatalf("id 1 after: %v, %v", sch, err)
	}
	if _, err := reg.schemaByID(t.Context(), 0); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("id 0: %v", err)
	}
	for id := 100; id < 100+2*maxNotFound; id++ {
		_, _ = reg.schemaByID(t.Context(), id)
	}
	reg.mu.Lock()
	n := len(reg.mu.byID)
	reg.mu.Unlock()
	if n > maxNotFound+2 { // the found id, and the fetch under way when the cache was emptied
		t.Fatalf("%d ids cached after %d unknown ones", n, 2*maxNotFound)
	}
}
