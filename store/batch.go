package store

// Batch collects puts and deletes to apply with [Backend.Write], in order; the
// last operation on a key wins. The zero value is an empty batch ready to use.
//
// A Batch copies what it is given into one growing buffer, so filling it
// allocates only while that buffer grows, and Reset keeps the memory for the
// next round. A Batch is not safe for concurrent use.
type Batch struct {
	ops []batchOp
	// data holds every op's key and value back to back; ops refer to it by
	// offset, so appending (and so moving data) never invalidates an op.
	data []byte
	// invalid counts ops whose key is not valid, so Write can reject the
	// batch without scanning it first.
	invalid int
}

// batchOp is one operation: its key is data[off:keyEnd], its value
// data[keyEnd:end].
type batchOp struct {
	off, keyEnd, end int
	delete           bool
}

// Put sets key to value. Both are copied; a nil or empty value is stored as
// present and empty.
func (b *Batch) Put(key, value []byte) {
	b.add(key, value, false)
}

// Delete removes key; deleting a missing key is not an error. key is copied.
func (b *Batch) Delete(key []byte) {
	b.add(key, nil, true)
}

func (b *Batch) add(key, value []byte, del bool) {
	if !validKey(key) {
		b.invalid++
	}
	off := len(b.data)
	b.data = append(b.data, key...)
	keyEnd := len(b.data)
	b.data = append(b.data, value...)
	b.ops = append(b.ops, batchOp{off: off, keyEnd: keyEnd, end: len(b.data), delete: del})
}

// Len returns the number of operations in the batch (not of distinct keys).
func (b *Batch) Len() int {
	return len(b.ops)
}

// Reset empties the batch and keeps its memory for reuse.
func (b *Batch) Reset() {
	b.ops = b.ops[:0]
	b.data = b.data[:0]
	b.invalid = 0
}

// op returns the i-th operation. key and value alias the batch's buffer and
// are capped, so an append by the receiver cannot overwrite the next op.
func (b *Batch) op(i int) (key, value []byte, del bool) {
	o := b.ops[i]
	return b.data[o.off:o.keyEnd:o.keyEnd], b.data[o.keyEnd:o.end:o.end], o.delete
}

// validate returns ErrInvalidKey if any key in the batch is invalid.
func (b *Batch) validate() error {
	if b.invalid > 0 {
		return ErrInvalidKey
	}
	return nil
}
