package serde_test

import (
	"errors"
	"fmt"

	"github.com/eddy-streams/eddy/serde"
)

func Example() {
	type Order struct {
		ID    string `json:"id"`
		Cents int64  `json:"cents"`
	}
	keys, values := serde.String(), serde.JSON[Order]()

	// One buffer serves every record: AppendEncode writes after buf[:0].
	var buf []byte
	buf, _ = keys.AppendEncode(buf[:0], "o-1")
	fmt.Printf("key:   %s\n", buf)
	buf, _ = values.AppendEncode(buf[:0], Order{ID: "o-1", Cents: 1299})
	fmt.Printf("value: %s\n", buf)

	order, err := values.Decode(buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("decoded: %+v\n", order)
	// Output:
	// key:   o-1
	// value: {"id":"o-1","cents":1299}
	// decoded: {ID:o-1 Cents:1299}
}

func ExampleInt64() {
	b, _ := serde.Int64().AppendEncode(nil, 1)
	fmt.Printf("% x\n", b)

	_, err := serde.Int64().Decode(b[:3])
	fmt.Println(err)
	fmt.Println(errors.Is(err, serde.ErrSize))
	// Output:
	// 00 00 00 00 00 00 00 01
	// serde: int64 needs 8 bytes, got 3
	// true
}
