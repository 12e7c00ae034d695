package serde_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/eddy-streams/eddy/internal/testpb"
	"github.com/eddy-streams/eddy/serde"
)

// goldenOrder is the message of serde/testdata/proto/order.txtpb.
func goldenOrder(t testing.TB) *testpb.Order {
	t.Helper()
	text, err := os.ReadFile("testdata/proto/order.txtpb")
	if err != nil {
		t.Fatal(err)
	}
	var o testpb.Order
	if err := prototext.Unmarshal(text, &o); err != nil {
		t.Fatal(err)
	}
	return &o
}

// eddy's Protobuf encoding is the bytes protoc (the reference implementation) writes.
func TestProtobufMatchesProtoc(t *testing.T) {
	want, err := os.ReadFile("testdata/proto/order.hex")
	if err != nil {
		t.Fatal(err)
	}
	java, err := hex.DecodeString(strings.TrimSpace(string(want)))
	if err != nil {
		t.Fatal(err)
	}
	s := serde.Protobuf[*testpb.Order]()
	in := goldenOrder(t)
	got, err := s.AppendEncode([]byte("prefix"), in)
	if err != nil {
		t.Fatal(err)
	}
	// Go's encoder writes a oneof's field after the others; protoc, by field number. Both
	// orders are valid Protobuf (parsers accept fields in any order); apart from that the
	// bytes are protoc's.
	card := []byte{0x3a, 0x04, '4', '1', '1', '1'} // field 7, the oneof's card
	i := bytes.Index(java, card)
	if i < 0 {
		t.Fatal("the golden bytes lack the card field")
	}
	moved := append(append(append([]byte{}, java[:i]...), java[i+len(card):]...), card...)
	if !bytes.Equal(got[6:], moved) || string(got[:6]) != "prefix" {
		t.Fatalf("eddy %x\nprotoc %x (the oneof moved last)", got[6:], moved)
	}
	back, err := s.Decode(java)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back, in) {
		t.Fatalf("decoded %v, want %v", back, in)
	}
	java[len(java)-1] ^= 0xff // still decodes: a changed fixed32
	if _, err := s.Decode(java[:len(java)-2]); err == nil {
		t.Fatal("a truncated message decoded")
	}
}

// The Confluent framing of each message of a file: the message indexes as Confluent's
// wire format specifies them ([0] as one zero byte; else a zigzag count and indexes).
func TestProtobufConfluentFraming(t *testing.T) {
	fake, reg, ct := newFakeRegistry(t)
	orders, err := serde.ProtobufConfluent[*testpb.Order](reg, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	customers, err := serde.ProtobufConfluent[*testpb.Customer](reg, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	lines, err := serde.ProtobufConfluent[*testpb.Order_Line](reg, serde.AutoRegister(), serde.Subject(serde.RecordName))
	if err != nil {
		t.Fatal(err)
	}
	items, err := serde.ProtobufConfluent[*testpb.Catalog_Item](reg, serde.AutoRegister(), serde.Subject(serde.RecordName))
	if err != nil {
		t.Fatal(err)
	}
	o := goldenOrder(t)
	for _, tc := range []struct {
		name   string
		encode func() ([]byte, error)
		index  []byte
	}{
		{"Order", func() ([]byte, error) { return serde.ForTopic(orders, "orders", false).AppendEncode(nil, o) }, []byte{0x02, 0x02}},
		{"Customer", func() ([]byte, error) {
			return serde.ForTopic(customers, "customers", false).AppendEncode(nil, o.Customer)
		}, []byte{0x00}},
		{"Order.Line", func() ([]byte, error) { return lines.AppendEncode(nil, o.Lines[0]) }, []byte{0x04, 0x02, 0x00}},
		// After a map field's entry type in the descriptor, which the indexes do not count.
		{"Catalog.Item", func() ([]byte, error) { return items.AppendEncode(nil, &testpb.Catalog_Item{Sku: "s"}) }, []byte{0x04, 0x06, 0x00}},
	} {
		b, err := tc.encode()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if b[0] != 0 || !bytes.Equal(b[5:5+len(tc.index)], tc.index) {
			t.Fatalf("%s: framing % x, want the message indexes % x after the id", tc.name, b[:5+len(tc.index)], tc.index)
		}
	}
	// The import is registered as a reference under its path.
	if !fake.SubjectExists("google/protobuf/timestamp.proto") {
		t.Fatal("google/protobuf/timestamp.proto was not registered as a reference")
	}
	ss, ok := fake.GetSchema("orders-value", 1)
	if !ok || ss.Type != sr.TypeProtobuf || len(ss.References) != 1 || ss.References[0].Name != "google/protobuf/timestamp.proto" {
		t.Fatalf("orders-value: %+v", ss)
	}
	b, err := serde.ForTopic(orders, "orders", false).AppendEncode(nil, o)
	if err != nil {
		t.Fatal(err)
	}
	before := ct.n.Load()
	for range 50 {
		back, err := orders.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(back, o) {
			t.Fatalf("decoded %v", back)
		}
	}
	if n := ct.n.Load() - before; n != 1 {
		t.Fatalf("50 decodes made %d registry requests, want 1", n)
	}
	// eddy reads its own Catalog.Item back: the registered text's indexes agree.
	ib, err := items.AppendEncode(nil, &testpb.Catalog_Item{Sku: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if it, err := items.Decode(ib); err != nil || it.Sku != "s" {
		t.Fatalf("Catalog.Item round trip: %v, %v", it, err)
	}
	// A Customer record read as an Order: the message indexes name another message.
	c, err := serde.ForTopic(customers, "customers", false).AppendEncode(nil, o.Customer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Decode(c); err == nil || !strings.Contains(err.Error(), "not eddy.test.shop.Order") {
		t.Fatalf("a Customer read as an Order: %v", err)
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte{1, 0, 0, 0, 1, 0}, "magic byte 0x01"},
		{[]byte{0, 0, 0}, "fewer than the framing's 5"},
		{[]byte{0, 0, 0, 0x30, 0x39, 0}, "schema id 12345"},
		{append(b[:5:5], 0x7f), "bad message indexes"},
	} {
		if _, err := orders.Decode(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(% x) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
	if _, err := orders.Decode([]byte{0, 0, 0, 0x30, 0x39, 0}); !errors.Is(err, serde.ErrSchemaNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

// A later version of the file that moves Order: the latest schema's indexes are written,
// and a record of either version is read as Order by the indexes its own schema gives.
func TestProtobufConfluentMovedMessage(t *testing.T) {
	fake, reg, _ := newFakeRegistry(t)
	moved := `syntax = "proto3";
package eddy.test.shop;
// Order comes first in this version.
message Order { string id = 1; string coupon = 14; }
message Customer { string id = 1; string name = 2; }
`
	id, _, err := fake.RegisterSchema("orders-value", sr.Schema{Schema: moved, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	latest, err := serde.ProtobufConfluent[*testpb.Order](reg, serde.UseLatest())
	if err != nil {
		t.Fatal(err)
	}
	b, err := serde.ForTopic(latest, "orders", false).AppendEncode(nil, &testpb.Order{Id: "o-1", Created: timestamppb.New(timestamppb.Now().AsTime())})
	if err != nil {
		t.Fatal(err)
	}
	if int(b[4]) != id || b[5] != 0 {
		t.Fatalf("framing % x: want id %d and index [0] (one zero byte)", b[:6], id)
	}
	back, err := latest.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Id != "o-1" {
		t.Fatalf("decoded %v", back)
	}
	// A v2 record with a field eddy's type lacks: kept as an unknown field, not an error.
	v2 := append(b[:6:6], 0x0a, 0x03, 'o', '-', '2', 0x72, 0x02, 'x', 'y') // id, coupon (field 14)
	back, err = latest.Decode(v2)
	if err != nil || back.Id != "o-2" || len(back.ProtoReflect().GetUnknown()) != 4 {
		t.Fatalf("v2 record: %v, %v", back, err)
	}
}

// FuzzProtobufConfluent feeds arbitrary bytes to the registry decoder: no panic, and what
// decodes encodes to bytes that decode to an equal message.
func FuzzProtobufConfluent(f *testing.F) {
	_, reg, _ := newFakeRegistry(f)
	s, err := serde.ProtobufConfluent[*testpb.Order](reg, serde.AutoRegister())
	if err != nil {
		f.Fatal(err)
	}
	s = serde.ForTopic(s, "orders", false)
	seed, err := s.AppendEncode(nil, goldenOrder(f))
	if err != nil {
		f.Fatal(err)
	}
	// The whole record is fuzzed, framing and message indexes included.
	f.Add(seed)
	f.Add(append(append([]byte{}, seed[:5]...), 0x04, 0x02, 0x00, 0x0a, 0xff))
	f.Add(seed[:6])
	f.Fuzz(func(t *testing.T, in []byte) {
		if m, err := s.Decode(in); err == nil {
			fuzzStable(t, s, in, m, func(a, b *testpb.Order) bool { return proto.Equal(a, b) })
		}
	})
}

// FuzzProtobuf feeds arbitrary bytes to the plain Protobuf decoder.
func FuzzProtobuf(f *testing.F) {
	s := serde.Protobuf[*testpb.Order]()
	seed, err := s.AppendEncode(nil, goldenOrder(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		if m, err := s.Decode(in); err == nil {
			fuzzStable(t, s, in, m, func(a, b *testpb.Order) bool { return proto.Equal(a, b) })
		}
	})
}
