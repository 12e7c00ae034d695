package state

import "encoding/binary"

// Key namespaces: the first byte of every key in the database.
const (
	nsData        byte = 0x01
	nsCheckpoint  byte = 0x02
	nsIncarnation byte = 0x03
	nsStoreID     byte = 0x04
)

// slot identifies one task's slice of one store.
type slot struct {
	sub       uint32
	partition uint32
	store     uint16
}

// slotLen is the width of the slot part of a key.
const slotLen = 4 + 4 + 2

func (s slot) append(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, s.sub)
	dst = binary.BigEndian.AppendUint32(dst, s.partition)
	return binary.BigEndian.AppendUint16(dst, s.store)
}

// dataPrefix is the prefix of every data key of the slot's given incarnation.
func (s slot) dataPrefix(incarnation uint32) []byte {
	b := make([]byte, 0, 1+slotLen+4)
	b = append(b, nsData)
	b = s.append(b)
	return binary.BigEndian.AppendUint32(b, incarnation)
}

func (s slot) checkpointKey() []byte  { return s.append([]byte{nsCheckpoint}) }
func (s slot) incarnationKey() []byte { return s.append([]byte{nsIncarnation}) }

func storeIDKey(name string) []byte { return append([]byte{nsStoreID}, name...) }

// prefixEnd returns the smallest key greater than every key with prefix p (nil when p is
// all 0xff, which never happens here: prefixes start with a namespace byte below 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
