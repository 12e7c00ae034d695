package store_test

import (
	"fmt"

	"github.com/eddy-streams/eddy/store"
)

func Example() {
	db := store.NewMemory() // or store.OpenBadger(dir, store.BadgerOptions{})
	defer db.Close()

	var b store.Batch
	b.Put([]byte("task1/a"), []byte("1"))
	b.Put([]byte("task1/b"), []byte("2"))
	b.Put([]byte("task2/a"), []byte("3"))
	b.Delete([]byte("task1/b"))
	if err := db.Write(&b); err != nil {
		fmt.Println(err)
		return
	}

	found, err := db.Get([]byte("task1/a"), func(v []byte) error {
		fmt.Printf("task1/a = %s\n", v) // v is valid only inside fn
		return nil
	})
	fmt.Println(found, err)

	// [lo, hi): "task10" is the first key after every "task1/…", as '0' follows '/'.
	it, err := db.Iterate([]byte("task1/"), []byte("task10"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%s = %s\n", it.Key(), it.Value())
	}
	fmt.Println(it.Err())
	// Output:
	// task1/a = 1
	// true <nil>
	// task1/a = 1
	// <nil>
}
