package serde_test

import (
	"testing"

	"github.com/eddy-streams/eddy/internal/testpb"
	"github.com/eddy-streams/eddy/serde"
)

// The benchmarks call through the Serde interface, as the runtime does, and
// encode into one reused buffer, so AppendEncode should report 0 allocs/op.
// String's Decode allocates once: the string must not alias the caller's buffer.
// Results go to package-level sinks so the compiler cannot drop the work.

var (
	sinkInt64  int64
	sinkString string
)

func BenchmarkInt64(b *testing.B) {
	s := serde.Int64()
	b.Run("AppendEncode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8)
		for i := range b.N {
			var err error
			buf, err = s.AppendEncode(buf[:0], int64(i))
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		in := []byte{0, 0, 0, 0, 0, 0, 4, 0xd2}
		for range b.N {
			v, err := s.Decode(in)
			if err != nil {
				b.Fatal(err)
			}
			sinkInt64 = v
		}
	})
}

func BenchmarkString(b *testing.B) {
	s := serde.String()
	const v = "customer-0042:order-1299"
	b.Run("AppendEncode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, len(v))
		for range b.N {
			var err error
			buf, err = s.AppendEncode(buf[:0], v)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		in := []byte(v)
		for range b.N {
			got, err := s.Decode(in)
			if err != nil {
				b.Fatal(err)
			}
			sinkString = got
		}
	})
}

// tenFields is the record of the format benchmarks: ten fields of the common kinds.
type tenFields struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"`
	Product  string  `json:"product"`
	Cents    int64   `json:"cents"`
	Qty      int32   `json:"qty"`
	Price    float64 `json:"price"`
	Paid     bool    `json:"paid"`
	Region   string  `json:"region"`
	Seq      int64   `json:"seq"`
	Note     string  `json:"note"`
}

// BenchmarkFormats encodes and decodes a ten-field record with each struct format.
func BenchmarkFormats(b *testing.B) {
	v := tenFields{ID: "o-000123", Customer: "c-0042", Product: "p-17", Cents: 129900, Qty: 3, Price: 433.0,
		Paid: true, Region: "eu-west", Seq: 987654321, Note: "leave at the door, please"}
	csvSerde, err := serde.CSV[tenFields]()
	if err != nil {
		b.Fatal(err)
	}
	avro, err := serde.Avro[tenFields]()
	if err != nil {
		b.Fatal(err)
	}
	// The Confluent framing over a registry: the schema is registered and fetched once,
	// before the timed loops, which then make no request.
	_, reg, requests := newFakeRegistry(b)
	confluent, err := serde.AvroConfluent[tenFields](reg, serde.AutoRegister())
	if err != nil {
		b.Fatal(err)
	}
	confluent = serde.ForTopic(confluent, "orders", false)
	for _, c := range []struct {
		name string
		s    serde.Serde[tenFields]
	}{{"CSV", csvSerde}, {"JSON", serde.JSON[tenFields]()}, {"Avro", avro}, {"AvroConfluent", confluent}} {
		benchSerde(b, c.name, c.s, v)
	}
	if n := requests.n.Load(); n != 2 {
		b.Fatalf("the registry had %d requests, want 2 (one registration, one fetch by id)", n)
	}
	benchProtobuf(b, v, reg)
}

// benchProtobuf runs the format benchmark for Protobuf: the same ten fields as testpb.Ten.
func benchProtobuf(b *testing.B, v tenFields, reg *serde.Registry) {
	m := &testpb.Ten{Id: v.ID, Customer: v.Customer, Product: v.Product, Cents: v.Cents, Qty: v.Qty, Price: v.Price,
		Paid: v.Paid, Region: v.Region, Seq: v.Seq, Note: v.Note}
	confluent, err := serde.ProtobufConfluent[*testpb.Ten](reg, serde.AutoRegister())
	if err != nil {
		b.Fatal(err)
	}
	benchSerde(b, "Protobuf", serde.Protobuf[*testpb.Ten](), m)
	benchSerde(b, "ProtobufConfluent", serde.ForTopic(confluent, "tens", false), m)
}

// benchSerde runs name's AppendEncode (into one reused buffer) and Decode of v.
func benchSerde[T any](b *testing.B, name string, s serde.Serde[T], v T) {
	enc, err := s.AppendEncode(nil, v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(name+"/AppendEncode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		for range b.N {
			if buf, err = s.AppendEncode(buf[:0], v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/Decode", func(b *testing.B) {
		b.ReportAllocs()
		var got T
		for range b.N {
			if got, err = s.Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
		sinkAny = got // once: boxing each value would add an allocation to the figures
	})
}

// sinkAny keeps decoded values alive so the compiler cannot drop the work.
var sinkAny any
