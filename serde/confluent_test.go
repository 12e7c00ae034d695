package serde_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-streams/eddy/serde"
)

// countingTransport counts the requests a Registry makes.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func newFakeRegistry(t testing.TB) (*srfake.Registry, *serde.Registry, *countingTransport) {
	t.Helper()
	fake := srfake.New()
	t.Cleanup(fake.Close)
	ct := &countingTransport{}
	reg, err := serde.NewRegistry(serde.RegistryURLs(fake.URL()), serde.RegistryHTTPClient(&http.Client{Transport: ct}))
	if err != nil {
		t.Fatal(err)
	}
	return fake, reg, ct
}

type userV1 struct {
	Name string `avro:"name"`
	Age  int32  `avro:"age"`
	Nick string `avro:"nick"`
}

type userV2 struct {
	Name  string  `avro:"name"`
	Age   int64   `avro:"age"`   // int promoted to long
	Email *string `avro:"email"` // added, default null
	Tier  string  `avro:"tier"`  // added with a default in the given schema
}

const userV1Schema = `{"type":"record","name":"User","namespace":"com.example","fields":[
 {"name":"name","type":"string"},{"name":"age","type":"int"},{"name":"nick","type":"string"}]}`

const userV2Schema = `{"type":"record","name":"User","namespace":"com.example","fields":[
 {"name":"name","type":"string"},
 {"name":"age","type":"long"},
 {"name":"email","type":["null","string"],"default":null},
 {"name":"tier","type":"string","default":"basic"}]}`

func TestAvroConfluentFramingCacheAndEvolution(t *testing.T) {
	_, reg, ct := newFakeRegistry(t)
	w, err := serde.AvroConfluent[userV1](reg, serde.AvroSchema(userV1Schema), serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	orders := serde.ForTopic(w, "users", false)
	var last []byte
	for i := range 100 {
		b, err := orders.AppendEncode(nil, userV1{Name: "ada", Age: int32(30 + i), Nick: "a"})
		if err != nil {
			t.Fatal(err)
		}
		last = b
	}
	if last[0] != 0 {
		t.Fatalf("magic byte %#x", last[0])
	}
	if n := ct.n.Load(); n != 1 {
		t.Fatalf("100 encodes made %d registry requests, want 1 (the registration)", n)
	}
	r, err := serde.AvroConfluent[userV2](reg, serde.AvroSchema(userV2Schema))
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		got, err := r.Decode(last)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "ada" || got.Age != 129 || got.Email != nil || got.Tier != "basic" {
			t.Fatalf("v2 reader got %+v", got)
		}
	}
	if n := ct.n.Load(); n != 2 {
		t.Fatalf("100 decodes made %d more registry requests, want 1 (the writer's schema)", n-1)
	}
}

func TestAvroConfluentSubjectsAndWriteModes(t *testing.T) {
	fake, reg, _ := newFakeRegistry(t)
	v2 := sr.Schema{Schema: userV2Schema, Type: sr.TypeAvro}
	for _, tc := range []struct {
		name    string
		opts    []serde.AvroOption
		key     bool
		subject string
	}{
		{"topic value", nil, false, "users-value"},
		{"topic key", nil, true, "users-key"},
		{"record", []serde.AvroOption{serde.Subject(serde.RecordName)}, false, "com.example.User"},
		{"topic record", []serde.AvroOption{serde.Subject(serde.TopicRecordName)}, false, "users-com.example.User"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]serde.AvroOption{serde.AvroSchema(userV2Schema)}, tc.opts...)
			s, err := serde.AvroConfluent[userV2](reg, opts...)
			if err != nil {
				t.Fatal(err)
			}
			bound := serde.ForTopic(s, "users", tc.key)
			// Not registered: the default looks the schema up and fails, naming the subject.
			_, err = bound.AppendEncode(nil, userV2{Name: "x"})
			if !errors.Is(err, serde.ErrSchemaNotFound) || !strings.Contains(err.Error(), tc.subject) {
				t.Fatalf("unregistered schema: got %v, want ErrSchemaNotFound naming %s", err, tc.subject)
			}
			id, _, err := fake.RegisterSchema(tc.subject, v2)
			if err != nil {
				t.Fatal(err)
			}
			b, err := bound.AppendEncode(nil, userV2{Name: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if got := int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]); got != id {
				t.Fatalf("wrote id %d, registered %d", got, id)
			}
		})
	}
	t.Run("use latest", func(t *testing.T) {
		v3 := `{"type":"record","name":"User","namespace":"com.example","fields":[
 {"name":"name","type":"string"},{"name":"age","type":"long"},
 {"name":"email","type":["null","string"],"default":null},{"name":"tier","type":"string","default":"basic"},
 {"name":"score","type":"double","default":1.5}]}`
		id, _, err := fake.RegisterSchema("latest-value", sr.Schema{Schema: v3, Type: sr.TypeAvro})
		if err != nil {
			t.Fatal(err)
		}
		s, err := serde.AvroConfluent[userV2](reg, serde.AvroSchema(userV2Schema), serde.UseLatest())
		if err != nil {
			t.Fatal(err)
		}
		b, err := serde.ForTopic(s, "latest", false).AppendEncode(nil, userV2{Name: "x", Age: 1, Tier: "gold"})
		if err != nil {
			t.Fatal(err)
		}
		if got := int(b[4]); got != id {
			t.Fatalf("wrote id %d, latest is %d", got, id)
		}
		// The v3 payload carries score's default 1.5 after tier: 8 bytes of double.
		if tail := b[len(b)-8:]; tail[7] != 0x3f || tail[6] != 0xf8 {
			t.Fatalf("payload does not end with the default 1.5: % x", b)
		}
	})
	t.Run("pinned id", func(t *testing.T) {
		id, _, err := fake.RegisterSchema("elsewhere", v2)
		if err != nil {
			t.Fatal(err)
		}
		s, err := serde.AvroConfluent[userV2](reg, serde.AvroSchema(userV2Schema), serde.SchemaID(id))
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.AppendEncode(nil, userV2{Name: "x"}) // unbound: a pinned id needs no subject
		if err != nil {
			t.Fatal(err)
		}
		if int(b[4]) != id {
			t.Fatalf("wrote id %d, pinned %d", b[4], id)
		}
	})
	t.Run("unbound topic strategy", func(t *testing.T) {
		s, err := serde.AvroConfluent[userV2](reg, serde.AvroSchema(userV2Schema))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendEncode(nil, userV2{}); err == nil || !strings.Contains(err.Error(), "ForTopic") {
			t.Fatalf("unbound TopicName serde: got %v, want an error saying to bind it", err)
		}
	})
	t.Run("two write modes", func(t *testing.T) {
		if _, err := serde.AvroConfluent[userV2](reg, serde.AutoRegister(), serde.UseLatest()); err == nil {
			t.Fatal("AutoRegister with UseLatest: no error")
		}
	})
}

func TestAvroConfluentDecodeErrors(t *testing.T) {
	_, reg, ct := newFakeRegistry(t)
	s, err := serde.AvroConfluent[userV2](reg, serde.AvroSchema(userV2Schema))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "fewer than the framing's 5"},
		{"short", []byte{0, 0, 0}, "fewer than the framing's 5"},
		{"magic", []byte(`{"name":"x"}`), "magic byte 0x7b"},
		{"unknown id", []byte{0, 0, 0, 0x30, 0x39, 2, 'x'}, "schema id 12345"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Decode(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	before := ct.n.Load()
	for range 10 {
		_, err := s.Decode([]byte{0, 0, 0, 0x30, 0x39, 2, 'x'})
		if !errors.Is(err, serde.ErrSchemaNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
	}
	if n := ct.n.Load() - before; n != 0 {
		t.Fatalf("an unknown id was asked for again %d times", n)
	}

	down, err := serde.NewRegistry(serde.RegistryURLs("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	s, err = serde.AvroConfluent[userV2](down, serde.AvroSchema(userV2Schema))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Decode([]byte{0, 0, 0, 0, 7, 2, 'x'})
	if err == nil || !strings.Contains(err.Error(), "schema id 7") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable registry: got %v, want an error naming the id and the URL", err)
	}
}

// Forward compatibility: a v1 reader reads what a later writer wrote when the change is
// compatible that way (a field added, one the reader has a default for removed).
func TestAvroConfluentOldReaderReadsNewWriter(t *testing.T) {
	_, reg, _ := newFakeRegistry(t)
	const v1 = `{"type":"record","name":"Event","fields":[{"name":"id","type":"string"},{"name":"kind","type":"string","default":"click"}]}`
	const v2 = `{"type":"record","name":"Event","fields":[{"name":"id","type":"string"},{"name":"at","type":"long","default":0},{"name":"tags","type":{"type":"array","items":"string"},"default":[]}]}`
	type eventV1 struct {
		ID   string `avro:"id"`
		Kind string `avro:"kind"`
	}
	type eventV2 struct {
		ID   string   `avro:"id"`
		At   int64    `avro:"at"`
		Tags []string `avro:"tags"`
	}
	w, err := serde.AvroConfluent[eventV2](reg, serde.AvroSchema(v2), serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	r, err := serde.AvroConfluent[eventV1](reg, serde.AvroSchema(v1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := serde.ForTopic(w, "events", false).AppendEncode(nil, eventV2{ID: "e1", At: 99, Tags: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != (eventV1{ID: "e1", Kind: "click"}) {
		t.Fatalf("v1 reader got %+v", got)
	}
}

// FuzzAvroConfluent feeds arbitrary bytes, framing included, to the registry decoder.
func FuzzAvroConfluent(f *testing.F) {
	_, reg, _ := newFakeRegistry(f)
	w, err := serde.AvroConfluent[userV1](reg, serde.AvroSchema(userV1Schema), serde.AutoRegister())
	if err != nil {
		f.Fatal(err)
	}
	seed, err := serde.ForTopic(w, "users", false).AppendEncode(nil, userV1{Name: "ada", Age: 36, Nick: "a"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:6])
	f.Add([]byte{0, 0, 0, 0, 9, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		if v, err := w.Decode(in); err == nil {
			fuzzStable(t, serde.ForTopic(w, "users", false), in, v, func(a, b userV1) bool { return a == b })
		}
	})
}

// Generic records over the registry: read with the writer's schema, whatever the version.
func TestAvroGenericConfluent(t *testing.T) {
	_, reg, _ := newFakeRegistry(t)
	w, err := serde.AvroConfluent[userV1](reg, serde.AvroSchema(userV1Schema), serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	b, err := serde.ForTopic(w, "users", false).AppendEncode(nil, userV1{Name: "ada", Age: 36, Nick: "a"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := serde.AvroGenericConfluent(reg, serde.AvroSchema(userV2Schema), serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	v, err := g.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "ada", "age": int32(36), "nick": "a"} // the writer's v1 fields
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("generic record %#v, want %#v", v, want)
	}
	// Writing uses the given schema (v2) under the topic's subject.
	out, err := serde.ForTopic(g, "users", false).AppendEncode(nil, map[string]any{"name": "bo", "age": int64(7),
		"email": goavro.Union("string", "b@o"), "tier": "gold"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := serde.AvroConfluent[userV2](reg, serde.AvroSchema(userV2Schema))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Decode(out)
	if err != nil || got.Name != "bo" || got.Age != 7 || got.Email == nil || *got.Email != "b@o" || got.Tier != "gold" {
		t.Fatalf("struct reader got %+v, %v", got, err)
	}
	noSchema, err := serde.AvroGenericConfluent(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noSchema.AppendEncode(nil, want); err == nil || !strings.Contains(err.Error(), "AvroSchema") {
		t.Fatalf("writing without a schema: %v", err)
	}
}

// JSON Schema's framing: the id of the registered schema, then the JSON; a writer's id
// that is not a JSON Schema is refused.
func TestJSONSchemaConfluent(t *testing.T) {
	fake, reg, _ := newFakeRegistry(t)
	const schema = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"User","type":"object",
 "properties":{"name":{"type":"string"},"age":{"type":"integer"}}}`
	type user struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	s, err := serde.JSONSchemaConfluent[user](reg, schema, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	b, err := serde.ForTopic(s, "users", false).AppendEncode(nil, user{"ada", 36})
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || string(b[5:]) != `{"name":"ada","age":36}` {
		t.Fatalf("framing: %q", b)
	}
	ss, ok := fake.GetSchema("users-value", 1)
	if !ok || ss.Type != sr.TypeJSON || int(b[4]) != ss.ID {
		t.Fatalf("registered %+v; wrote id %d", ss, b[4])
	}
	got, err := s.Decode(b)
	if err != nil || got != (user{"ada", 36}) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	avroID, _, err := fake.RegisterSchema("other", sr.Schema{Schema: userV1Schema, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decode(append([]byte{0, 0, 0, 0, byte(avroID)}, b[5:]...)); err == nil || !strings.Contains(err.Error(), "not a JSON Schema") {
		t.Fatalf("an Avro schema's record read as JSON: %v", err)
	}
	if _, err := serde.JSONSchemaConfluent[user](reg, "not json"); err == nil {
		t.Fatal("a schema that is not JSON was accepted")
	}
}

// FuzzAvroGenericConfluent and FuzzJSONSchemaConfluent feed arbitrary bytes, framing
// included, to the other registry decoders: no panic, and what decodes encodes again.
func FuzzAvroGenericConfluent(f *testing.F) {
	_, reg, _ := newFakeRegistry(f)
	g, err := serde.AvroGenericConfluent(reg, serde.AvroSchema(userV1Schema), serde.AutoRegister())
	if err != nil {
		f.Fatal(err)
	}
	g = serde.ForTopic(g, "users", false)
	seed, err := g.AppendEncode(nil, map[string]any{"name": "ada", "age": int32(36), "nick": "a"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:7])
	f.Fuzz(func(t *testing.T, in []byte) {
		if v, err := g.Decode(in); err == nil {
			fuzzStable(t, g, in, v, func(a, b any) bool { return reflect.DeepEqual(a, b) })
		}
	})
}

func FuzzJSONSchemaConfluent(f *testing.F) {
	_, reg, _ := newFakeRegistry(f)
	type user struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	s, err := serde.JSONSchemaConfluent[user](reg, `{"title":"User","type":"object"}`, serde.AutoRegister())
	if err != nil {
		f.Fatal(err)
	}
	s = serde.ForTopic(s, "users", false)
	seed, err := s.AppendEncode(nil, user{"ada", 36})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(append(seed[:5:5], '{'))
	f.Fuzz(func(t *testing.T, in []byte) {
		if v, err := s.Decode(in); err == nil {
			fuzzStable(t, s, in, v, func(a, b user) bool { return a == b })
		}
	})
}
