package savepoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Record is a record pending in an internal topic at the cut: written by one
// sub-topology before it, not yet processed by the one that reads the topic.
type Record struct {
	// Key and Value are the record's bytes; nil is Kafka's null (an empty slice is not).
	Key, Value []byte
	// Timestamp is the record's time, to the millisecond.
	Timestamp time.Time
	Headers   []Header
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// The flags of a pending record's envelope.
const (
	nullKey   = 1 << 0
	nullValue = 1 << 1
)

// PutRecord appends a pending record, as an entry whose key is the record's key and whose
// value is its envelope: flags (1 byte: 1 null key, 2 null value), the timestamp (varint,
// Unix ms), the header count (uvarint), each header's key and value (uvarint length and
// bytes), then the value.
func (s *SliceWriter) PutRecord(r Record) error {
	flags := byte(0)
	if r.Key == nil {
		flags |= nullKey
	}
	if r.Value == nil {
		flags |= nullValue
	}
	env := make([]byte, 0, 16+len(r.Value))
	env = append(env, flags)
	env = binary.AppendVarint(env, r.Timestamp.UnixMilli())
	env = binary.AppendUvarint(env, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		env = binary.AppendUvarint(env, uint64(len(h.Key)))
		env = append(env, h.Key...)
		env = binary.AppendUvarint(env, uint64(len(h.Value)))
		env = append(env, h.Value...)
	}
	return s.Put(r.Key, append(env, r.Value...))
}

// Records calls fn with every record pending in partition of internal topic (named
// without the application id), in offset order. As with Entries, the file is checked whole
// first; the record's bytes are valid only during the call.
func (sp *Savepoint) Records(topic string, partition int32, fn func(Record) error) error {
	f, err := lookup("internal topic", sp.Manifest.Pending, topic, partition)
	if err != nil {
		return err
	}
	var n int64
	return sp.entries(f, func(key, env []byte) error {
		r, err := decodeRecord(key, env)
		if err != nil {
			return fmt.Errorf("%w: %s: record %d: %v", ErrInvalid, f.Path, n, err)
		}
		n++
		return fn(r)
	})
}

var errEnvelope = errors.New("malformed envelope")

func decodeRecord(key, env []byte) (Record, error) {
	var r Record
	if len(env) < 1 {
		return r, errEnvelope
	}
	flags, b := env[0], env[1:]
	ms, n := binary.Varint(b)
	if n <= 0 {
		return r, errEnvelope
	}
	b = b[n:]
	r.Timestamp = time.UnixMilli(ms)
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return r, errEnvelope
	}
	b = b[n:]
	field := func() ([]byte, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, false
		}
		f := b[n : n+int(l)]
		b = b[n+int(l):]
		return f, true
	}
	for range count {
		k, ok := field()
		if !ok {
			return r, errEnvelope
		}
		v, ok := field()
		if !ok {
			return r, errEnvelope
		}
		r.Headers = append(r.Headers, Header{Key: string(k), Value: v})
	}
	if flags&nullKey == 0 {
		r.Key = key
		if r.Key == nil {
			r.Key = []byte{}
		}
	}
	if flags&nullValue == 0 {
		r.Value = b
		if r.Value == nil {
			r.Value = []byte{}
		}
	}
	return r, nil
}
