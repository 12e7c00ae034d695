package assign

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestMemberInfoRoundTrip(t *testing.T) {
	tests := []MemberInfo{
		{},
		{ProcessID: "3f2a9c1e-5b7d-4e8a-9c0b-1d2e3f4a5b6c", Worker: 0},
		{ProcessID: "host-1", Worker: 7},
		{ProcessID: "prozeß-ü", Worker: 1 << 40},
		{ProcessID: "negative", Worker: -3},
		{ProcessID: string(make([]byte, 300)), Worker: 2}, // length needs a two-byte uvarint
		{ProcessID: "stateful", Worker: 1, State: []TaskOffsets{{TaskID{0, 3}, 1_000_000}, {TaskID{2, 0}, 0}, {TaskID{1, 1 << 30}, -1}}},
		{ProcessID: "served", Worker: 0, Endpoint: "10.0.0.7:8080"},
	}
	for _, want := range tests {
		data, err := want.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(%+v): %v", want, err)
		}
		if data[0] != 3 {
			t.Errorf("version byte = %d, want 3", data[0])
		}
		var got MemberInfo
		if err := got.UnmarshalBinary(data); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary(%+v)): %v", want, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip = %+v, want %+v", got, want)
		}
	}
}

// A version 1 member (process id and worker only) is read with no state.
func TestMemberInfoUnmarshalVersion1(t *testing.T) {
	data := binary.AppendVarint(append([]byte{1, 2}, "p1"...), 5)
	var got MemberInfo
	if err := got.UnmarshalBinary(data); err != nil || !reflect.DeepEqual(got, MemberInfo{ProcessID: "p1", Worker: 5}) {
		t.Errorf("version 1 reads as %+v, %v", got, err)
	}
}

func TestMemberInfoUnmarshalLaterVersion(t *testing.T) {
	// A later version appends fields; this version must still read its own.
	want := MemberInfo{ProcessID: "p", Worker: 4, State: []TaskOffsets{{TaskID{1, 2}, 99}}, Endpoint: "h:1"}
	data, _ := want.MarshalBinary()
	data[0] = 4
	data = append(data, 0xde, 0xad, 0xbe, 0xef)
	var got MemberInfo
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestMemberInfoUnmarshalErrors(t *testing.T) {
	huge := binary.AppendUvarint([]byte{1}, 1<<62)
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"version 0", []byte{0, 1, 'a', 2}},
		{"no length", []byte{1}},
		{"length overflows varint", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"length past end", []byte{1, 5, 'a', 'b'}},
		{"huge length", huge},
		{"no worker", []byte{1, 1, 'a'}},
		{"truncated worker", []byte{1, 1, 'a', 0x80}},
		{"garbage", []byte("not member info at all")},
		{"no task count", []byte{2, 1, 'a', 2}},
		{"endpoint past end", []byte{3, 1, 'a', 2, 0, 5, 'h'}},
		{"more tasks than bytes", []byte{2, 1, 'a', 2, 5, 0, 0, 0}},
		{"truncated task", []byte{2, 1, 'a', 2, 1, 0, 2}},
		{"partition out of range", binary.AppendVarint(binary.AppendVarint([]byte{2, 1, 'a', 2, 1, 0}, 1<<40), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MemberInfo{ProcessID: "keep", Worker: 9}
			err := got.UnmarshalBinary(tt.data)
			if !errors.Is(err, ErrMemberInfo) {
				t.Fatalf("UnmarshalBinary(%x) = %v, want ErrMemberInfo", tt.data, err)
			}
			if !reflect.DeepEqual(got, MemberInfo{ProcessID: "keep", Worker: 9}) {
				t.Errorf("failed UnmarshalBinary changed the receiver to %+v", got)
			}
		})
	}
}

func FuzzMemberInfoUnmarshal(f *testing.F) {
	for _, m := range []MemberInfo{{}, {ProcessID: "p", Worker: 3}, {ProcessID: "long-process-id", Worker: -1},
		{ProcessID: "s", State: []TaskOffsets{{TaskID{0, 1}, 7}}}} {
		data, _ := m.MarshalBinary()
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m MemberInfo
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		again, _ := m.MarshalBinary()
		var m2 MemberInfo
		if err := m2.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(m2, m) {
			t.Fatalf("round trip of %+v: got %+v, %v", m, m2, err)
		}
	})
}
