package serde_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-streams/eddy/serde"
)

// TestAvroMatchesGoavro checks eddy's struct codec against goavro on the same schema:
// goavro decodes what eddy writes and writes the same bytes back, and eddy decodes what
// goavro writes into the value it started from.
func TestAvroMatchesGoavro(t *testing.T) {
	text, err := serde.AvroSchemaOf[avroOrder](serde.AvroNamespace("com.example.eddy"))
	if err != nil {
		t.Fatal(err)
	}
	codec, err := goavro.NewCodec(text)
	if err != nil {
		t.Fatal(err)
	}
	s, err := serde.Avro[avroOrder](serde.AvroNamespace("com.example.eddy"))
	if err != nil {
		t.Fatal(err)
	}
	full := sampleOrder()
	full.Extras = map[string]int64{"only": 7} // goavro writes a map in Go's random order
	empty := avroOrder{Status: "NEW", Created: full.Created, Updated: full.Updated, Amount: serde.Decimal{Scale: 2}}
	for _, v := range []avroOrder{full, empty} {
		mine, err := s.AppendEncode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		native, rest, err := codec.NativeFromBinary(mine)
		if err != nil || len(rest) > 0 {
			t.Fatalf("goavro cannot read eddy's bytes: %v (%d left)", err, len(rest))
		}
		theirs, err := codec.BinaryFromNative(nil, native)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Fatalf("bytes differ:\n eddy   %x\n goavro %x", mine, theirs)
		}
		back, err := s.Decode(theirs)
		if err != nil {
			t.Fatal(err)
		}
		if v.Tags == nil {
			v.Tags, v.Extras, v.Blob = []string{}, map[string]int64{}, []byte{} // Avro has no nil
		}
		if back.Amount.Unscaled.Sign() == 0 {
			back.Amount.Unscaled = v.Amount.Unscaled // zero reads as a big.Int; nil means zero
		}
		if !reflect.DeepEqual(v, back) {
			t.Fatalf("goavro's bytes decode to\n %#v\nwant\n %#v", back, v)
		}
	}
}

// FuzzAvro feeds arbitrary bytes to the struct decoder: it must not panic, and what it
// accepts must encode to bytes that decode to the same value.
func FuzzAvro(f *testing.F) {
	s, err := serde.Avro[avroOrder](serde.AvroNamespace("com.example.eddy"))
	if err != nil {
		f.Fatal(err)
	}
	seed, err := s.AppendEncode(nil, sampleOrder())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte{})
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := s.Decode(in)
		if err != nil {
			return
		}
		b, err := s.AppendEncode(nil, v)
		if err != nil {
			t.Fatalf("decoded %+v from %x but cannot encode it: %v", v, in, err)
		}
		again, err := s.Decode(b)
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", b, err)
		}
		b2, err := s.AppendEncode(nil, again)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("encode → decode → encode changed the bytes: %x then %x (%v)", b, b2, err)
		}
	})
}

// FuzzAvroResolving fuzzes the decoder that resolves a writer's schema (v1 of a record,
// registered in a fake registry) into the reader's (v2): it must not panic, and what it
// accepts has the reader's defaults.
func FuzzAvroResolving(f *testing.F) {
	fake, reg, _ := newFakeRegistry(f)
	id, _, err := fake.RegisterSchema("users-value", sr.Schema{Schema: userV1Schema, Type: sr.TypeAvro})
	if err != nil {
		f.Fatal(err)
	}
	w, err := serde.Avro[userV1](serde.AvroSchema(userV1Schema))
	if err != nil {
		f.Fatal(err)
	}
	r, err := serde.AvroConfluent[userV2](reg, serde.AvroSchema(userV2Schema))
	if err != nil {
		f.Fatal(err)
	}
	seed, err := w.AppendEncode(nil, userV1{Name: "ada", Age: 36, Nick: "a"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0x01})
	header := []byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := r.Decode(append(header[:5:5], in...))
		if err != nil {
			return
		}
		old, err := w.Decode(in)
		if err != nil {
			t.Fatalf("the v2 reader accepted %x, which v1 rejects: %v", in, err)
		}
		if v.Name != old.Name || v.Age != int64(old.Age) || v.Email != nil || v.Tier != "basic" {
			t.Fatalf("resolved %+v from v1's %+v", v, old)
		}
	})
}

// FuzzAvroGeneric feeds arbitrary bytes to the generic (goavro) decoder: no panic, and what
// it accepts encodes to bytes that decode to the same value (not always the input's bytes:
// a varint may be written longer than it needs, which Avro readers accept).
func FuzzAvroGeneric(f *testing.F) {
	g, err := serde.AvroGeneric(userV2Schema)
	if err != nil {
		f.Fatal(err)
	}
	s, err := serde.Avro[userV2](serde.AvroSchema(userV2Schema))
	if err != nil {
		f.Fatal(err)
	}
	email := "a@b.c"
	seed, err := s.AppendEncode(nil, userV2{Name: "ada", Age: 36, Email: &email, Tier: "gold"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		if v, err := g.Decode(in); err == nil {
			fuzzStable(t, g, in, v, func(a, b any) bool { return reflect.DeepEqual(a, b) })
		}
	})
}

// fuzzStable asks what a fuzzer's decoder accepted to survive encode → decode: v, decoded
// from in, encodes, and the encoding decodes to a value eq to v. (Not always to in's bytes:
// varints may be written longer than needed, map entries in any order.)
func fuzzStable[T any](t *testing.T, s serde.Serde[T], in []byte, v T, eq func(a, b T) bool) {
	t.Helper()
	b, err := s.AppendEncode(nil, v)
	if err != nil {
		t.Fatalf("decoded %v from %x, cannot encode it: %v", v, in, err)
	}
	again, err := s.Decode(b)
	if err != nil || !eq(v, again) {
		t.Fatalf("%v from %x encodes to %x, which decodes to %v (%v)", v, in, b, again, err)
	}
}
