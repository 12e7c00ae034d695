package serde

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/sr"
)

// TopicSerde is implemented by a Serde whose bytes depend on the topic it serves and on
// whether it encodes keys or values: the Schema Registry serdes, whose subject is named
// after the topic. eddy looks for it once per source, sink, repartition topic and store
// when a task is built, and uses the Serde that ForTopic returns for that topic's keys or
// values (a store's topic is its changelog). A plain Serde needs nothing of the kind.
type TopicSerde[T any] interface {
	Serde[T]
	// ForTopic returns the Serde for topic's keys (key set) or values. It must be cheap
	// (it is called for every task) and must not fail: what can fail, such as asking a
	// registry, waits for the first record.
	ForTopic(topic string, key bool) Serde[T]
}

// ForTopic returns s bound to topic: s.ForTopic(topic, key) when s is a TopicSerde, else
// s itself. Code that produces or consumes with eddy's serdes outside a topology calls it
// as eddy does.
func ForTopic[T any](s Serde[T], topic string, key bool) Serde[T] {
	if ts, ok := s.(TopicSerde[T]); ok {
		return ts.ForTopic(topic, key)
	}
	return s
}

// SubjectStrategy names the registry subject a schema is registered under, as Confluent's
// subject.name.strategy does.
type SubjectStrategy int

const (
	// TopicName is "<topic>-key" or "<topic>-value" (the default): one schema, with its
	// versions, per topic.
	TopicName SubjectStrategy = iota
	// RecordName is the record's full name: one schema for a record type in every topic.
	RecordName
	// TopicRecordName is "<topic>-<record full name>": several record types in a topic.
	TopicRecordName
)

func (s SubjectStrategy) String() string {
	switch s {
	case TopicName:
		return "TopicName"
	case RecordName:
		return "RecordName"
	case TopicRecordName:
		return "TopicRecordName"
	}
	return fmt.Sprintf("SubjectStrategy(%d)", int(s))
}

// ConfluentOption configures the Schema Registry serdes (AvroConfluent, ProtobufConfluent).
type ConfluentOption interface {
	AvroOption
	applyConfluent(*confluentConfig)
}

// writeMode is how a registry serde finds the id it writes.
type writeMode int

const (
	writeLookup   writeMode = iota // the schema must be registered under the subject
	writeRegister                  // register it (AutoRegister)
	writeLatest                    // the subject's latest schema (UseLatest)
	writePinned                    // a given id (SchemaID)
)

type confluentConfig struct {
	strategy SubjectStrategy
	mode     writeMode
	id       int
	modes    int // how many write modes were chosen: at most one
}

type confluentOpt func(*confluentConfig)

func (o confluentOpt) applyAvro(c *avroConfig)           { o(&c.confluent) }
func (o confluentOpt) applyConfluent(c *confluentConfig) { o(c) }

// Subject sets the subject strategy (default TopicName).
func Subject(s SubjectStrategy) ConfluentOption {
	return confluentOpt(func(c *confluentConfig) { c.strategy = s })
}

// AutoRegister registers the serde's schema under the subject when it first writes, as
// Confluent's auto.register.schemas does; the registry's compatibility rules then decide
// whether the new version is accepted. Off by default: production topics' schemas are
// registered by their owners, and a serde writes with the id the registry already has for
// its schema under the subject (and fails, naming the subject, when there is none).
func AutoRegister() ConfluentOption {
	return confluentOpt(func(c *confluentConfig) { c.mode = writeRegister; c.modes++ })
}

// UseLatest writes with the subject's latest schema, whatever its version, as Confluent's
// use.latest.version does: T must fit that schema (its fields with defaults T lacks are
// written as their defaults). The latest version is fetched once per subject.
func UseLatest() ConfluentOption {
	return confluentOpt(func(c *confluentConfig) { c.mode = writeLatest; c.modes++ })
}

// SchemaID writes with the schema registered under id, whatever the subject.
func SchemaID(id int) ConfluentOption {
	return confluentOpt(func(c *confluentConfig) { c.mode, c.id = writePinned, id; c.modes++ })
}

func (c *confluentConfig) validate() error {
	if c.modes > 1 {
		return errors.New("choose one of AutoRegister, UseLatest and SchemaID")
	}
	if c.mode == writePinned && c.id <= 0 {
		return fmt.Errorf("SchemaID needs a positive id, got %d", c.id)
	}
	if c.strategy < TopicName || c.strategy > TopicRecordName {
		return fmt.Errorf("unknown subject strategy %d", int(c.strategy))
	}
	return nil
}

// subjectFor names the subject under strategy for a topic's keys or values and a record.
func subjectFor(strategy SubjectStrategy, topic string, key bool, record string) (string, error) {
	switch strategy {
	case RecordName, TopicRecordName:
		if record == "" {
			return "", fmt.Errorf("the %s subject strategy needs a record (or message) schema", strategy)
		}
		if strategy == RecordName {
			return record, nil
		}
	}
	if topic == "" {
		return "", fmt.Errorf("the %s subject strategy needs the topic: bind the serde with serde.ForTopic(s, topic, key) (eddy's sources, sinks and stores do)", strategy)
	}
	if strategy == TopicRecordName {
		return topic + "-" + record, nil
	}
	if key {
		return topic + "-key", nil
	}
	return topic + "-value", nil
}

// errFraming is wrapped by the errors for bytes that do not start with the Confluent
// framing: the record was not written by a Schema Registry serializer.
var errFraming = errors.New("not in the Confluent wire format")

// appendFraming appends the magic byte and the schema id.
func appendFraming(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, 0), uint32(id))
}

// splitFraming returns the schema id and the payload after the framing.
func splitFraming(b []byte) (int, []byte, error) {
	switch {
	case len(b) < 5:
		return 0, nil, fmt.Errorf("%w: %d bytes, fewer than the framing's 5 (a zero magic byte and a 4-byte schema id)", errFraming, len(b))
	case b[0] != 0:
		return 0, nil, fmt.Errorf("%w: magic byte %#02x, want 0x00", errFraming, b[0])
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:], nil
}

// registryCache is what a registry serde learns, shared by all its bindings: the way it
// writes under each subject, and a decoder per writer's schema id. Decoders are read on
// every record without a lock (a copy-on-write map); rmu serializes its changes, and mu
// the writes', so a write waiting on the registry holds up no reader.
type registryCache[W, D any] struct {
	mu     sync.Mutex
	writes map[string]*W // guarded by mu: by subject
	rmu    sync.Mutex    // serializes the changes of decs (apart from mu, which is held across a write's requests)
	decs   atomic.Pointer[map[int]*D]
}

func (c *registryCache[W, D]) decoder(id int) *D {
	if m := c.decs.Load(); m != nil {
		return (*m)[id]
	}
	return nil
}

// addDecoderLocked stores d for id; call it with rmu held.
func (c *registryCache[W, D]) addDecoderLocked(id int, d *D) {
	old := c.decs.Load()
	m := make(map[int]*D, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[id] = d
	c.decs.Store(&m)
}

// AvroConfluent returns a Serde that writes T in Avro with the Confluent wire format (a
// zero byte, the schema's 4-byte id, the Avro payload) and reads records so framed.
//
// Reading uses the writer's schema, fetched by its id once and cached, resolved into T's
// schema (the reader's) by Avro's rules: fields the writer lacks get the reader's defaults,
// fields the reader lacks are skipped, fields match by name or alias, int widens to long,
// float or double, long to float or double, float to double, string and bytes convert,
// enum symbols match by name (a symbol the reader lacks is its default), and unions resolve
// branch by branch. A writer's schema that cannot be resolved fails the records that use it;
// so do bytes without the framing and an id the registry does not know (ErrSchemaNotFound):
// as decode errors, they go through the bad-input policy, naming the id. A registry that
// cannot be reached (ErrRegistryUnavailable) is no fault of the record: eddy stops instead.
//
// Writing finds the id once per subject: by default the id the registry has for T's schema
// under the subject (see AutoRegister, UseLatest and SchemaID for the others). The subject
// comes from the Subject strategy, TopicName by default, for which the serde must be bound
// to its topic (ForTopic); eddy binds it in every source, sink and store. A failure to find
// the id is an encode error naming the subject (the production policy applies, or eddy
// stops for ErrRegistryUnavailable); it is tried again at the next record.
//
// The options are Avro's (AvroSchema, AvroNamespace) and the ConfluentOptions. It returns
// an error for a T that has no Avro mapping or does not fit the given schema.
func AvroConfluent[T any](reg *Registry, opts ...AvroOption) (Serde[T], error) {
	if reg == nil {
		return nil, errors.New("serde: avro-confluent: nil Registry")
	}
	local, err := newAvroCodec[T](opts)
	if err != nil {
		return nil, err
	}
	var cfg avroConfig
	for _, o := range opts {
		o.applyAvro(&cfg)
	}
	if err := cfg.confluent.validate(); err != nil {
		return nil, fmt.Errorf("serde: avro-confluent: %s: %w", local.typ, err)
	}
	s := &avroConfluent[T]{shared: &avroShared[T]{reg: reg, local: local, cfg: cfg.confluent}}
	s.shared.cache.writes = map[string]*avroWrite{}
	if local.schema.kind == avroRecord {
		s.shared.record = local.schema.name
	} else if cfg.confluent.strategy != TopicName {
		return nil, fmt.Errorf("serde: avro-confluent: %s: the %s subject strategy needs a record schema, not %s", local.typ, cfg.confluent.strategy, local.schema)
	}
	return s, nil
}

// avroShared is an AvroConfluent's state, shared by its bindings.
type avroShared[T any] struct {
	reg    *Registry
	local  *avroCodec[T]
	cfg    confluentConfig
	record string // the local schema's full name, for the record subject strategies
	cache  registryCache[avroWrite, avroRead]
}

// avroWrite is how a subject is written: the id and an encoder of T for its schema.
type avroWrite struct {
	id  int
	enc avroEnc
}

// avroRead decodes what one writer's schema wrote, or says why it cannot.
type avroRead struct {
	dec avroDec
	err error
}

// avroConfluent is an AvroConfluent bound to a topic (or not, topic "").
type avroConfluent[T any] struct {
	shared *avroShared[T]
	topic  string
	key    bool
	write  atomic.Pointer[avroWrite]
}

var _ TopicSerde[struct{}] = (*avroConfluent[struct{}])(nil)

func (s *avroConfluent[T]) ForTopic(topic string, key bool) Serde[T] {
	return &avroConfluent[T]{shared: s.shared, topic: topic, key: key}
}

func (s *avroConfluent[T]) AppendEncode(dst []byte, v T) ([]byte, error) {
	w, err := boundWrite(&s.write, func() (*avroWrite, error) { return s.shared.writeFor(s.topic, s.key) })
	if err != nil {
		return dst, err
	}
	out, err := w.enc(appendFraming(dst, w.id), reflect.ValueOf(&v).Elem())
	if err != nil {
		return dst, fmt.Errorf("serde: avro-confluent: encoding %s: %w", s.shared.local.typ, err)
	}
	return out, nil
}

func (s *avroConfluent[T]) Decode(b []byte) (T, error) {
	id, payload, rd, err := s.shared.cache.reader("avro-confluent", b, s.shared.readFor)
	if err == nil {
		err = rd.err
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeAvro[T](rd.dec, payload, s.shared.local.typ, id)
}

// writeFor finds how to write under the binding's subject, once per subject.
func (sh *avroShared[T]) writeFor(topic string, key bool) (*avroWrite, error) {
	subject, err := sh.cfg.subjectOf("avro-confluent", sh.local.typ, topic, key, sh.record)
	if err != nil {
		return nil, err
	}
	return cachedWrite(&sh.cache, subject, func() (*avroWrite, error) {
		own := func() (sr.Schema, error) { return sr.Schema{Schema: sh.local.text, Type: sr.TypeAvro}, nil }
		id, sch, err := sh.reg.writerSchema(context.Background(), "avro-confluent", sh.cfg, subject, sr.TypeAvro, own)
		if err != nil {
			return nil, err
		}
		w := &avroWrite{id: id, enc: sh.local.enc}
		if sch != nil { // T written with the registered schema: compiled against it
			schema, err := checkAvroSchema(sch.Schema)
			if err == nil {
				w.enc, err = compileAvroEnc(schema, reflect.TypeFor[T]())
			}
			if err != nil {
				return nil, fmt.Errorf("serde: avro-confluent: %s does not fit schema id %d: %w", sh.local.typ, id, err)
			}
		}
		return w, nil
	})
}

// readFor compiles the decoder for what the schema with id wrote into T. A schema that
// cannot be resolved is remembered as such, so that its records fail without asking again.
func (sh *avroShared[T]) readFor(id int) (*avroRead, error) {
	return cachedRead(sh.reg, &sh.cache, id, func(sch sr.Schema, err error) *avroRead {
		rd := &avroRead{err: err}
		switch {
		case err != nil:
		case sch.Type != sr.TypeAvro:
			rd.err = fmt.Errorf("serde: avro-confluent: schema id %d is %s, not Avro", id, sch.Type)
		default:
			writer, err := checkAvroSchema(sch.Schema)
			if err != nil {
				rd.err = fmt.Errorf("serde: avro-confluent: schema id %d: %w", id, err)
			} else if rd.dec, err = compileAvroDec(writer, sh.local.schema, reflect.TypeFor[T]()); err != nil {
				rd.err = fmt.Errorf("serde: avro-confluent: the writer's schema id %d cannot be read as %s: %w", id, sh.local.typ, err)
			}
		}
		return rd
	})
}

// subjectOf names the subject a binding writes under: "" for a pinned id, which needs
// none; format names the serde in errors.
func (c confluentConfig) subjectOf(format, typ, topic string, key bool, record string) (string, error) {
	if c.mode == writePinned {
		return "", nil
	}
	subject, err := subjectFor(c.strategy, topic, key, record)
	if err != nil {
		return "", fmt.Errorf("serde: %s: %s: %w", format, typ, err)
	}
	return subject, nil
}

// cachedWrite returns how c writes under subject, made once by make: a failure is not
// kept, so the next record tries again.
func cachedWrite[W, D any](c *registryCache[W, D], subject string, make func() (*W, error)) (*W, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.writes[subject]; ok {
		return w, nil
	}
	w, err := make()
	if err != nil {
		return nil, err
	}
	c.writes[subject] = w
	return w, nil
}

// cachedRead returns c's decoder for the writer's schema id, made once by make from the
// schema. An id the registry does not know gives make's answer to ErrSchemaNotFound
// without keeping it (the Registry remembers it for a while, so that costs no request);
// a registry that cannot be reached is an error.
func cachedRead[W, D any](reg *Registry, c *registryCache[W, D], id int, make func(sr.Schema, error) *D) (*D, error) {
	sch, err := reg.schemaByID(context.Background(), id)
	switch {
	case errors.Is(err, ErrSchemaNotFound):
		return make(sch, err), nil
	case err != nil:
		return nil, err
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if d := c.decoder(id); d != nil {
		return d, nil
	}
	d := make(sch, nil)
	c.addDecoderLocked(id, d)
	return d, nil
}

// writerSchema finds the id to write under subject by the write mode: own's id (looked up,
// or registered with AutoRegister), the subject's latest (UseLatest) or the pinned id
// (SchemaID). For the last two it also returns the schema registered under the id,
// checked to be of typ; for the first two, nil.
func (r *Registry) writerSchema(ctx context.Context, format string, cfg confluentConfig, subject string, typ sr.SchemaType,
	own func() (sr.Schema, error)) (int, *sr.Schema, error) {
	switch cfg.mode {
	case writeLatest:
		ss, err := r.latest(ctx, subject)
		if err != nil {
			return 0, nil, err
		}
		if ss.Type != typ {
			return 0, nil, fmt.Errorf("serde: %s: the latest schema of subject %s (id %d) is %s, not %s", format, subject, ss.ID, ss.Type, typ)
		}
		return ss.ID, &ss.Schema, nil
	case writePinned:
		sch, err := r.schemaByID(ctx, cfg.id)
		if err != nil {
			return 0, nil, err
		}
		if sch.Type != typ {
			return 0, nil, fmt.Errorf("serde: %s: schema id %d is %s, not %s", format, cfg.id, sch.Type, typ)
		}
		return cfg.id, &sch, nil
	}
	sch, err := own()
	if err != nil {
		return 0, nil, err
	}
	id, err := r.idFor(ctx, subject, sch, cfg.mode == writeRegister)
	return id, nil, err
}

// boundWrite returns the way a binding writes, from p once it is known, else made by
// make (and kept in p).
func boundWrite[W any](p *atomic.Pointer[W], make func() (*W, error)) (*W, error) {
	if w := p.Load(); w != nil {
		return w, nil
	}
	w, err := make()
	if err != nil {
		return nil, err
	}
	p.Store(w)
	return w, nil
}

// reader splits the framing off b and returns the writer's schema id, the payload and the
// decoder for the id (read makes it the first time), or the error that stops the record.
func (c *registryCache[W, D]) reader(format string, b []byte, read func(int) (*D, error)) (int, []byte, *D, error) {
	id, payload, err := splitFraming(b)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("serde: %s: %w", format, err)
	}
	d := c.decoder(id)
	if d == nil {
		if d, err = read(id); err != nil {
			return 0, nil, nil, err
		}
	}
	return id, payload, d, nil
}
