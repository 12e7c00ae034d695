package serde

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/sr"
)

// JSONSchemaConfluent returns a Serde that writes T as JSON (as JSON does) with the
// Confluent wire format of Confluent's JSON Schema serializer: a zero byte, the schema's
// 4-byte id, the JSON. schema is T's JSON Schema document, registered or looked up under
// the subject as AvroConfluent does with its schema (the record name strategies use the
// schema's "title"). Reading checks once per id that the writer's schema is a JSON Schema,
// then decodes the JSON into T with encoding/json: fields T lacks are ignored, missing
// ones are zero. It does not validate values against the schema, as Confluent's
// serializer does not by default (json.fail.invalid.schema=false).
func JSONSchemaConfluent[T any](reg *Registry, schema string, opts ...ConfluentOption) (Serde[T], error) {
	name := typeName[T]()
	if reg == nil {
		return nil, errors.New("serde: json-schema-confluent: nil Registry")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(schema), &doc); err != nil {
		return nil, fmt.Errorf("serde: json-schema-confluent: %s: the schema is not a JSON object: %w", name, err)
	}
	var cfg confluentConfig
	for _, o := range opts {
		o.applyConfluent(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("serde: json-schema-confluent: %s: %w", name, err)
	}
	title, _ := doc["title"].(string)
	sh := &jsonShared{reg: reg, cfg: cfg, schema: schema, title: title, typ: name}
	sh.cache.writes = map[string]*jsonWrite{}
	return &jsonConfluent[T]{shared: sh}, nil
}

type jsonShared struct {
	reg    *Registry
	cfg    confluentConfig
	schema string
	title  string
	typ    string
	cache  registryCache[jsonWrite, jsonRead]
}

type jsonWrite struct{ id int }

type jsonRead struct{ err error }

type jsonConfluent[T any] struct {
	shared *jsonShared
	topic  string
	key    bool
	write  atomic.Pointer[jsonWrite]
}

var _ TopicSerde[struct{}] = (*jsonConfluent[struct{}])(nil)

func (s *jsonConfluent[T]) ForTopic(topic string, key bool) Serde[T] {
	return &jsonConfluent[T]{shared: s.shared, topic: topic, key: key}
}

func (s *jsonConfluent[T]) AppendEncode(dst []byte, v T) ([]byte, error) {
	w, err := boundWrite(&s.write, func() (*jsonWrite, error) { return s.shared.writeFor(s.topic, s.key) })
	if err != nil {
		return dst, err
	}
	out, err := jsonSerde[T]{}.AppendEncode(appendFraming(dst, w.id), v)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (s *jsonConfluent[T]) Decode(b []byte) (T, error) {
	var zero T
	id, payload, rd, err := s.shared.cache.reader("json-schema-confluent", b, s.shared.readFor)
	if err == nil {
		err = rd.err
	}
	if err != nil {
		return zero, err
	}
	v, err := jsonSerde[T]{}.Decode(payload)
	if err != nil {
		return zero, fmt.Errorf("%w (schema id %d)", err, id)
	}
	return v, nil
}

func (sh *jsonShared) writeFor(topic string, key bool) (*jsonWrite, error) {
	subject, err := sh.cfg.subjectOf("json-schema-confluent", sh.typ, topic, key, sh.title)
	if err != nil {
		return nil, err
	}
	return cachedWrite(&sh.cache, subject, func() (*jsonWrite, error) {
		own := func() (sr.Schema, error) { return sr.Schema{Schema: sh.schema, Type: sr.TypeJSON}, nil }
		id, _, err := sh.reg.writerSchema(context.Background(), "json-schema-confluent", sh.cfg, subject, sr.TypeJSON, own)
		if err != nil {
			return nil, err
		}
		return &jsonWrite{id: id}, nil
	})
}

func (sh *jsonShared) readFor(id int) (*jsonRead, error) {
	return cachedRead(sh.reg, &sh.cache, id, func(sch sr.Schema, err error) *jsonRead {
		if err == nil && sch.Type != sr.TypeJSON {
			err = fmt.Errorf("serde: json-schema-confluent: schema id %d is %s, not a JSON Schema", id, sch.Type)
		}
		return &jsonRead{err: err}
	})
}
