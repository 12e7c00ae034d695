package serde

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// avroReader reads Avro's binary encoding from b.
type avroReader struct {
	b   []byte
	pos int
	// items counts the array and map items read so far, against the budget of itemBudget:
	// items that take no bytes (null, an empty record) could otherwise be claimed without
	// end, even nested, by a few bytes of input.
	items int
}

// spend counts n more items against the value's budget: one per input byte, and
// maxZeroWidthItems more for items that take no bytes.
func (r *avroReader) spend(n int64) error {
	if n > int64(len(r.b)+maxZeroWidthItems-r.items) {
		return fmt.Errorf("a block of %d items with %d bytes left (%d items read)", n, len(r.b)-r.pos, r.items)
	}
	r.items += int(n)
	return nil
}

var (
	errAvroShort  = errors.New("the input ends inside a value")
	errAvroVarint = errors.New("a varint longer than 10 bytes")
)

func (r *avroReader) long() (int64, error) {
	u, n := binary.Uvarint(r.b[r.pos:])
	switch {
	case n == 0:
		return 0, errAvroShort
	case n < 0:
		return 0, errAvroVarint
	}
	r.pos += n
	return int64(u>>1) ^ -int64(u&1), nil
}

func (r *avroReader) int() (int64, error) {
	n, err := r.long()
	if err == nil && (n < math.MinInt32 || n > math.MaxInt32) {
		return 0, fmt.Errorf("an int of %d does not fit 32 bits", n)
	}
	return n, err
}

func (r *avroReader) boolean() (bool, error) {
	if r.pos >= len(r.b) {
		return false, errAvroShort
	}
	c := r.b[r.pos]
	r.pos++
	if c > 1 {
		return false, fmt.Errorf("a boolean byte of %d", c)
	}
	return c == 1, nil
}

func (r *avroReader) fixed(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.pos < n {
		return nil, errAvroShort
	}
	b := r.b[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

func (r *avroReader) float() (float64, error) {
	b, err := r.fixed(4)
	if err != nil {
		return 0, err
	}
	return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
}

func (r *avroReader) double() (float64, error) {
	b, err := r.fixed(8)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
}

// bytes returns a length-prefixed byte string, aliasing the input: callers copy it.
func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("a negative length %d", n)
	}
	if n > int64(len(r.b)-r.pos) {
		return nil, fmt.Errorf("a length of %d with %d bytes left", n, len(r.b)-r.pos)
	}
	return r.fixed(int(n))
}

// blockCount reads the count of the next block of an array or map; a negative count is
// followed by the block's size in bytes, which a reader may use to skip it.
func (r *avroReader) blockCount() (int64, error) {
	n, err := r.long()
	if err != nil || n >= 0 {
		return n, err
	}
	if n == math.MinInt64 {
		return 0, fmt.Errorf("a block count of %d", n)
	}
	if _, err := r.long(); err != nil {
		return 0, err
	}
	return -n, nil
}

// maxZeroWidthItems bounds the items of one value's arrays and maps whose items may take
// no bytes at all (nulls, empty records) beyond the input's length, so that a corrupt
// count cannot make Decode loop or allocate without end.
const maxZeroWidthItems = 1 << 16

// compileAvroSkip compiles a reader that passes over a value of t, for the writer's fields
// the reader does not have.
func compileAvroSkip(t *avroType) func(*avroReader) error {
	return skipper(t, map[*avroType]*func(*avroReader) error{})
}

func skipper(t *avroType, seen map[*avroType]*func(*avroReader) error) func(*avroReader) error {
	switch t.kind {
	case avroNull:
		return func(*avroReader) error { return nil }
	case avroBoolean:
		return func(r *avroReader) error { _, err := r.boolean(); return err }
	case avroInt, avroLong, avroEnum:
		return func(r *avroReader) error { _, err := r.long(); return err }
	case avroFloat:
		return func(r *avroReader) error { _, err := r.fixed(4); return err }
	case avroDouble:
		return func(r *avroReader) error { _, err := r.fixed(8); return err }
	case avroBytes, avroString:
		return func(r *avroReader) error { _, err := r.bytes(); return err }
	case avroFixed:
		size := t.size
		return func(r *avroReader) error { _, err := r.fixed(size); return err }
	case avroArray, avroMap:
		isMap := t.kind == avroMap
		var item func(*avroReader) error
		if isMap {
			item = skipper(t.values, seen)
		} else {
			item = skipper(t.items, seen)
		}
		return func(r *avroReader) error {
			for {
				n, err := r.blockCount()
				if err != nil || n == 0 {
					return err
				}
				if err := r.spend(n); err != nil {
					return err
				}
				for range n {
					if isMap {
						if _, err := r.bytes(); err != nil {
							return err
						}
					}
					if err := item(r); err != nil {
						return err
					}
				}
			}
		}
	case avroUnion:
		branches := make([]func(*avroReader) error, len(t.branches))
		for i, b := range t.branches {
			branches[i] = skipper(b, seen)
		}
		return func(r *avroReader) error {
			i, err := r.int()
			if err != nil {
				return err
			}
			if i < 0 || i >= int64(len(branches)) {
				return fmt.Errorf("union branch %d of %s, which has %d", i, t, len(branches))
			}
			return branches[i](r)
		}
	case avroRecord:
		if p, ok := seen[t]; ok {
			return func(r *avroReader) error { return (*p)(r) }
		}
		slot := new(func(*avroReader) error)
		seen[t] = slot
		fields := make([]func(*avroReader) error, len(t.fields))
		for i, f := range t.fields {
			fields[i] = skipper(f.typ, seen)
		}
		*slot = func(r *avroReader) error {
			for _, f := range fields {
				if err := f(r); err != nil {
					return err
				}
			}
			return nil
		}
		return *slot
	}
	return func(*avroReader) error { return fmt.Errorf("cannot skip a %s", t) }
}
