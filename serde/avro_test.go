package serde_test

import (
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
)

type avroStatus string

func (avroStatus) AvroSymbols() []string { return []string{"NEW", "PAID", "SHIPPED"} }

type avroAddress struct {
	Street string `avro:"street"`
	City   string `avro:"city"`
}

type avroOrder struct {
	ID      string           `avro:"id"`
	Cents   int64            `avro:"cents"`
	Qty     int32            `avro:"qty"`
	Price   float64          `avro:"price"`
	Ratio   float32          `avro:"ratio"`
	Paid    bool             `avro:"paid"`
	Blob    []byte           `avro:"blob"`
	Status  avroStatus       `avro:"status"`
	Tags    []string         `avro:"tags"`
	Extras  map[string]int64 `avro:"extras"`
	Note    *string          `avro:"note"`
	Address avroAddress      `avro:"address"`
	Created time.Time        `avro:"created"`
	Updated time.Time        `avro:"updated,micros"`
	Amount  serde.Decimal    `avro:"amount,precision=10,scale=2"`
	Billing *avroAddress     `avro:"billing"`
	secret  int
}

func sampleOrder() avroOrder {
	note := "leave at the door ✓"
	return avroOrder{
		ID: "o-1", Cents: -1299, Qty: 3, Price: 12.99, Ratio: 0.5, Paid: true, Blob: []byte{0, 1, 0xff},
		Status: "PAID", Tags: []string{"a", "b"}, Extras: map[string]int64{"x": 1, "y": -2}, Note: &note,
		Address: avroAddress{"Main St 1", "Zürich"}, Created: time.UnixMilli(1700000000123).UTC(),
		Updated: time.UnixMicro(1700000000123456).UTC(), Amount: serde.Decimal{Unscaled: big.NewInt(-12345), Scale: 2},
		Billing: &avroAddress{"Side St", "Bern"},
	}
}

// A struct of every mapped kind survives a round trip (TestAvroMatchesGoavro holds the
// bytes to goavro's, the golden tests to Java's).
func TestAvroRoundTrip(t *testing.T) {
	s, err := serde.Avro[avroOrder](serde.AvroNamespace("com.example.eddy"))
	if err != nil {
		t.Fatal(err)
	}
	in := sampleOrder()
	b, err := s.AppendEncode(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

// Schemas Java refuses are refused when the serde is made, naming the problem.
func TestAvroRefusesInvalidSchemas(t *testing.T) {
	for _, tc := range []struct{ schema, want string }{
		{`{"type":"record","name":"R","fields":[{"name":"a","type":"nope"}]}`, `unknown type "nope"`},
		{`{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}`, "default"},
		{`{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}`, "repeated"},
		{`{"type":"enum","name":"E","symbols":["A","B"],"default":"C"}`, `the default "C"`},
		{`{"type":"record","name":"1R","fields":[]}`, "not a valid name"},
		{`["int","int"]`, "two branches"},
		{`{"type":"fixed","name":"F","size":2}`, "cannot hold"}, // valid: the mismatch is with T
		{`not json`, "not JSON"},
	} {
		_, err := serde.Avro[struct{ A int32 }](serde.AvroSchema(tc.schema))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.schema, err, tc.want)
		}
	}
}

// Schemas that once broke the compilers: a record under a writer union that fails to
// resolve, met again outside it (the failure must not leave an empty decoder behind), and
// a recursive record inside a union of several types (an any field).
func TestAvroCompilerEdgeCases(t *testing.T) {
	_, reg, _ := newFakeRegistry(t)
	type addr struct {
		City string `avro:"city"`
		Zip  string `avro:"zip"`
	}
	type rec struct {
		A *addr `avro:"a"`
		B addr  `avro:"b"`
	}
	reader := `{"type":"record","name":"R","fields":[
 {"name":"a","type":["null",{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"},{"name":"zip","type":"string"}]}]},
 {"name":"b","type":"Addr"}]}`
	writer := `{"type":"record","name":"R","fields":[
 {"name":"a","type":["null",{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"}]}]},
 {"name":"b","type":"Addr"}]}`
	id, _, err := reg2(t, reg, writer)
	if err != nil {
		t.Fatal(err)
	}
	s, err := serde.AvroConfluent[rec](reg, serde.AvroSchema(reader))
	if err != nil {
		t.Fatal(err)
	}
	// The reader's Addr has a zip without a default, which the writer's lacks: no record of
	// this writer can be read, and each says so (it must not panic).
	_, err = s.Decode([]byte{0, 0, 0, 0, byte(id), 0, 2, 'x'})
	if err == nil || !strings.Contains(err.Error(), "zip") {
		t.Fatalf("got %v, want the missing zip named", err)
	}

	type node struct {
		V any `avro:"v"`
	}
	recursive := `{"type":"record","name":"Top","fields":[{"name":"v","type":["null","string",
 {"type":"record","name":"Node","fields":[{"name":"n","type":"int"},{"name":"next","type":["null","Node"]}]}]}]}`
	ns, err := serde.Avro[node](serde.AvroSchema(recursive))
	if err != nil {
		t.Fatal(err)
	}
	in := node{V: map[string]any{"n": int32(1), "next": map[string]any{"n": int32(2), "next": nil}}}
	b, err := ns.AppendEncode(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ns.Decode(b)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("recursive record under any: %#v, %v", out, err)
	}
}

// reg2 registers an Avro schema under a subject of its own.
func reg2(t *testing.T, reg *serde.Registry, schema string) (int, int, error) {
	t.Helper()
	w, err := serde.AvroGenericConfluent(reg, serde.AvroSchema(schema), serde.AutoRegister(), serde.Subject(serde.RecordName))
	if err != nil {
		return 0, 0, err
	}
	b, err := w.AppendEncode(nil, map[string]any{"a": nil, "b": map[string]any{"city": "x"}})
	if err != nil {
		return 0, 0, err
	}
	return int(b[4]), 0, nil
}
