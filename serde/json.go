package serde

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

var _ Serde[struct{}] = jsonSerde[struct{}]{}

// JSON returns a Serde that encodes T with encoding/json. Encoding matches
// json.Marshal except that <, > and & are written as they are rather than as
// \u003c, \u003e and \u0026: records are not embedded in HTML, and unescaped
// payloads read better in kcat and match what Java's Jackson writes.
//
// Decode follows json.Unmarshal. Nil or empty input is an error, as is
// anything json.Unmarshal rejects; on error Decode returns the zero T, never a
// half-filled one. The error names T, e.g.
// "serde: json: decoding main.Order: unexpected end of JSON input".
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

type jsonSerde[T any] struct{}

func (jsonSerde[T]) AppendEncode(dst []byte, v T) ([]byte, error) {
	// The Encoder writes into a Buffer that starts as dst, so the encoding
	// lands after dst's bytes without an extra copy. It marshals into its own
	// scratch space first and writes only on success, so on error dst is
	// untouched.
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, fmt.Errorf("serde: json: encoding %s: %w", typeName[T](), err)
	}
	out := buf.Bytes()
	// Encode ends every value with a newline, which json.Marshal does not and
	// which would be part of the record.
	return out[:len(out)-1], nil
}

func (jsonSerde[T]) Decode(b []byte) (T, error) {
	var v T
	if len(b) == 0 {
		// Said plainly, because a tombstone reaching a JSON value serde is the
		// common cause and "unexpected end of JSON input" hides it.
		return v, fmt.Errorf("serde: json: decoding %s: %w", typeName[T](), errEmpty)
	}
	// json.Unmarshal copies strings and json.RawMessage out of b, so v does not
	// alias the caller's buffer; a custom UnmarshalJSON must copy by its contract.
	if err := json.Unmarshal(b, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("serde: json: decoding %s: %w", typeName[T](), err)
	}
	return v, nil
}

var errEmpty = errors.New("empty input")

// typeName is computed only on the error path; reflect.TypeFor, unlike %T of a
// zero value, also names interface types.
func typeName[T any]() string { return reflect.TypeFor[T]().String() }
