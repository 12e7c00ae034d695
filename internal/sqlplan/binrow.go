package sqlplan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// binRow is the compact binary form of rows of known types that eddy keeps internally —
// group keys (which must encode the same way for equal keys: this form does), the rows a
// repartition topic carries, aggregate accumulators. Each value is a presence byte, then
// for a present value: 8 bytes big-endian for numbers, times (Unix nanoseconds) and
// intervals, 1 for booleans, a uvarint length and the bytes for strings and bytes.
type binRow struct{ kinds []Kind }

var errShortRow = errors.New("sqlplan: a row's bytes end early")

func (s binRow) AppendEncode(dst []byte, row []any) ([]byte, error) {
	if len(row) != len(s.kinds) {
		return nil, fmt.Errorf("sqlplan: a row of %d values, want %d", len(row), len(s.kinds))
	}
	for i, v := range row {
		if v == nil {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		switch v := v.(type) {
		case int32:
			dst = binary.BigEndian.AppendUint64(dst, uint64(int64(v)))
		case int64:
			dst = binary.BigEndian.AppendUint64(dst, uint64(v))
		case float64:
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
		case time.Time:
			dst = binary.BigEndian.AppendUint64(dst, uint64(v.UnixNano()))
		case time.Duration:
			dst = binary.BigEndian.AppendUint64(dst, uint64(v))
		case bool:
			b := byte(0)
			if v {
				b = 1
			}
			dst = append(dst, b)
		case string:
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		case []byte:
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		default:
			return nil, fmt.Errorf("sqlplan: value %d of a row is a %T", i, v)
		}
	}
	return dst, nil
}

func (s binRow) Decode(b []byte) ([]any, error) {
	row := make([]any, len(s.kinds))
	if err := s.decodeInto(b, row); err != nil {
		return nil, err
	}
	return row, nil
}

// decodeInto decodes b into row, of the codec's width: an operator's scratch row.
func (s binRow) decodeInto(b []byte, row []any) error {
	for i, k := range s.kinds {
		if len(b) == 0 {
			return errShortRow
		}
		present := b[0]
		b = b[1:]
		if present == 0 {
			row[i] = nil
			continue
		}
		switch k {
		case Boolean:
			if len(b) < 1 {
				return errShortRow
			}
			row[i], b = b[0] == 1, b[1:]
		case String, Bytes:
			n, w := binary.Uvarint(b)
			if w <= 0 || uint64(len(b)-w) < n {
				return errShortRow
			}
			data := b[w : w+int(n)]
			if k == String {
				row[i] = string(data)
			} else {
				row[i] = append([]byte(nil), data...)
			}
			b = b[w+int(n):]
		default:
			if len(b) < 8 {
				return errShortRow
			}
			u := binary.BigEndian.Uint64(b)
			b = b[8:]
			switch k {
			case Int:
				row[i] = int32(int64(u))
			case BigInt:
				row[i] = int64(u)
			case Double:
				row[i] = math.Float64frombits(u)
			case Timestamp, TimestampLTZ:
				row[i] = time.Unix(0, int64(u)).UTC()
			case Interval:
				row[i] = time.Duration(u)
			default:
				return fmt.Errorf("sqlplan: a row value of kind %s", k)
			}
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("sqlplan: %d bytes after a row", len(b))
	}
	return nil
}
