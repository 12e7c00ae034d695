package serde

import (
	"os"
	"reflect"
	"testing"

	"github.com/eddy-streams/eddy/internal/testpb"
)

// The schema text registered for a message is its file printed from the descriptor, and
// the message scanner finds the same messages at the same indexes in it as in the
// original source (comments, options and all).
func TestProtoFileTextAndMessages(t *testing.T) {
	fd := (&testpb.Order{}).ProtoReflect().Descriptor().ParentFile()
	text, err := protoFileText(fd)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/proto/shop.schema")
	if err != nil {
		t.Fatal(err)
	}
	if text != string(golden) {
		t.Fatalf("schema text:\n%s\nwant (testdata/proto/shop.schema):\n%s", text, golden)
	}
	original, err := os.ReadFile("../internal/testpb/shop.proto")
	if err != nil {
		t.Fatal(err)
	}
	want := []protoMessage{{"Customer", []int{0}}, {"Order", []int{1}}, {"Order.Line", []int{1, 0}}, {"Ten", []int{2}}, {"Catalog", []int{3}}, {"Catalog.Item", []int{3, 0}}}
	for _, src := range []string{text, string(original)} {
		msgs, pkg, err := protoMessages(src)
		if err != nil {
			t.Fatal(err)
		}
		if pkg != "eddy.test.shop" || !reflect.DeepEqual(msgs, want) {
			t.Fatalf("messages %v in package %q, want %v in eddy.test.shop", msgs, pkg, want)
		}
	}
	msgs, _, err := protoMessages(`message A { string message = 1; message B { enum E { X = 0; } message C {} } oneof o { int32 i = 2; } } /* message D { */ message E { option (x) = { a: 1 }; }`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []protoMessage{{"A", []int{0}}, {"A.B", []int{0, 0}}, {"A.B.C", []int{0, 0, 0}}, {"E", []int{1}}}; !reflect.DeepEqual(msgs, want) {
		t.Fatalf("tricky source: %v, want %v", msgs, want)
	}
}
