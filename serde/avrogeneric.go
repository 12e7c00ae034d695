package serde

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// AvroGeneric returns a Serde for records of schema without a Go type of their own: values
// are goavro's native form (a record is a map[string]any, a union that is not null is a
// map[string]any of one entry from the branch's type name to the value, long is int64,
// bytes []byte, and the logical types time.Time, time.Duration and *big.Rat). It is for
// tools and pipelines that pass records through whatever their fields, and for unions of
// several types, which no struct field maps to. Encoding appends to the caller's buffer;
// Decode rejects bytes left over. The schema is validated when AvroGeneric is called.
func AvroGeneric(schema string) (Serde[any], error) {
	c, err := goavro.NewCodec(schema)
	if err != nil {
		return nil, fmt.Errorf("serde: avro: invalid schema: %w", err)
	}
	return avroGeneric{c}, nil
}

type avroGeneric struct{ c *goavro.Codec }

func (g avroGeneric) AppendEncode(dst []byte, v any) ([]byte, error) {
	out, err := g.c.BinaryFromNative(dst, v)
	if err != nil {
		return dst, fmt.Errorf("serde: avro: encoding a generic record: %w", err)
	}
	return out, nil
}

func (g avroGeneric) Decode(b []byte) (any, error) {
	// goavro's bytes values are slices of its input: decode a copy, which they may keep,
	// since the caller reuses b.
	v, rest, err := g.c.NativeFromBinary(append([]byte(nil), b...))
	if err != nil {
		return nil, fmt.Errorf("serde: avro: decoding a generic record: %w", err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("serde: avro: decoding a generic record: %d bytes left over after the value", len(rest))
	}
	return v, nil
}

// AvroGenericConfluent returns a Serde of generic records (goavro's native form, as
// AvroGeneric) with the Confluent wire format. It reads each record with its writer's
// schema, fetched once per id, as Confluent's deserializer returns a GenericRecord: the
// record's fields are the writer's. It writes with the schema AvroSchema gives (required
// to write; without it, encoding fails), finding its id as AvroConfluent does (Subject and
// the write modes apply; the record name strategies use that schema's name).
func AvroGenericConfluent(reg *Registry, opts ...AvroOption) (Serde[any], error) {
	if reg == nil {
		return nil, errors.New("serde: avro-confluent: nil Registry")
	}
	var cfg avroConfig
	for _, o := range opts {
		o.applyAvro(&cfg)
	}
	if err := cfg.confluent.validate(); err != nil {
		return nil, fmt.Errorf("serde: avro-confluent: generic records: %w", err)
	}
	if cfg.schema == "" && cfg.confluent.mode != writeLatest && cfg.confluent.mode != writePinned && cfg.confluent.modes > 0 {
		return nil, errors.New("serde: avro-confluent: generic records: AutoRegister needs their schema (AvroSchema)")
	}
	sh := &genericShared{reg: reg, cfg: cfg.confluent, text: cfg.schema}
	sh.cache.writes = map[string]*genericWrite{}
	if cfg.schema != "" {
		t, err := checkAvroSchema(cfg.schema)
		if err != nil {
			return nil, fmt.Errorf("serde: avro-confluent: generic records: %w", err)
		}
		if t.kind == avroRecord {
			sh.record = t.name
		}
	}
	return &genericConfluent{shared: sh}, nil
}

type genericShared struct {
	reg    *Registry
	cfg    confluentConfig
	text   string
	record string
	cache  registryCache[genericWrite, genericRead]
}

type genericWrite struct {
	id    int
	codec *goavro.Codec
}

type genericRead struct {
	codec *goavro.Codec
	err   error
}

type genericConfluent struct {
	shared *genericShared
	topic  string
	key    bool
	write  atomic.Pointer[genericWrite]
}

var _ TopicSerde[any] = (*genericConfluent)(nil)

func (s *genericConfluent) ForTopic(topic string, key bool) Serde[any] {
	return &genericConfluent{shared: s.shared, topic: topic, key: key}
}

func (s *genericConfluent) AppendEncode(dst []byte, v any) ([]byte, error) {
	w, err := boundWrite(&s.write, func() (*genericWrite, error) { return s.shared.writeFor(s.topic, s.key) })
	if err != nil {
		return dst, err
	}
	out, err := w.codec.BinaryFromNative(appendFraming(dst, w.id), v)
	if err != nil {
		return dst, fmt.Errorf("serde: avro-confluent: encoding a generic record: %w", err)
	}
	return out, nil
}

func (s *genericConfluent) Decode(b []byte) (any, error) {
	id, payload, rd, err := s.shared.cache.reader("avro-confluent", b, s.shared.readFor)
	if err == nil {
		err = rd.err
	}
	if err != nil {
		return nil, err
	}
	v, rest, err := rd.codec.NativeFromBinary(append([]byte(nil), payload...)) // goavro's bytes alias its input
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%d bytes left over after the value", len(rest))
	}
	if err != nil {
		return nil, fmt.Errorf("serde: avro-confluent: decoding a generic record (schema id %d): %w", id, err)
	}
	return v, nil
}

func (sh *genericShared) writeFor(topic string, key bool) (*genericWrite, error) {
	if sh.text == "" && sh.cfg.mode != writeLatest && sh.cfg.mode != writePinned {
		return nil, errors.New("serde: avro-confluent: writing generic records needs their schema (AvroSchema), or UseLatest or SchemaID")
	}
	subject, err := sh.cfg.subjectOf("avro-confluent", "generic records", topic, key, sh.record)
	if err != nil {
		return nil, err
	}
	return cachedWrite(&sh.cache, subject, func() (*genericWrite, error) {
		own := func() (sr.Schema, error) { return sr.Schema{Schema: sh.text, Type: sr.TypeAvro}, nil }
		id, sch, err := sh.reg.writerSchema(context.Background(), "avro-confluent", sh.cfg, subject, sr.TypeAvro, own)
		if err != nil {
			return nil, err
		}
		text := sh.text
		if sch != nil {
			text = sch.Schema
		}
		codec, err := goavro.NewCodec(text)
		if err != nil {
			return nil, fmt.Errorf("serde: avro-confluent: schema id %d: %w", id, err)
		}
		return &genericWrite{id: id, codec: codec}, nil
	})
}

func (sh *genericShared) readFor(id int) (*genericRead, error) {
	return cachedRead(sh.reg, &sh.cache, id, func(sch sr.Schema, err error) *genericRead {
		rd := &genericRead{err: err}
		switch {
		case err != nil:
		case sch.Type != sr.TypeAvro:
			rd.err = fmt.Errorf("serde: avro-confluent: schema id %d is %s, not Avro", id, sch.Type)
		default:
			if rd.codec, err = goavro.NewCodec(sch.Schema); err != nil {
				rd.err = fmt.Errorf("serde: avro-confluent: schema id %d: %w", id, err)
			}
		}
		return rd
	})
}
