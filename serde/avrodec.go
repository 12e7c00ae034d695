package serde

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"time"
)

// avroDec decodes one value into v, which is settable and of the Go type it was compiled for.
type avroDec func(r *avroReader, v reflect.Value) error

// avroDecCompiler compiles decoders that read what writer wrote into a Go value of the
// reader's schema, resolving the two schemas as Avro's specification says.
type avroDecCompiler struct {
	records map[decKey]*avroDec
}

type decKey struct {
	w, r *avroType
	rt   reflect.Type
}

func compileAvroDec(writer, reader *avroType, rt reflect.Type) (avroDec, error) {
	c := avroDecCompiler{records: map[decKey]*avroDec{}}
	return c.compile(writer, reader, rt)
}

func (c *avroDecCompiler) compile(w, rd *avroType, rt reflect.Type) (avroDec, error) {
	if w.kind == avroUnion {
		return c.writerUnion(w, rd, rt)
	}
	if rt == anyType {
		return c.anyDec(w, rd)
	}
	if rd.kind == avroUnion {
		return c.readerUnion(w, rd, rt)
	}
	mismatch := func() (avroDec, error) {
		return nil, fmt.Errorf("the writer's %s cannot be read as the reader's %s", w, rd)
	}
	switch rd.kind {
	case avroNull:
		if w.kind != avroNull {
			return mismatch()
		}
		return func(*avroReader, reflect.Value) error { return nil }, nil
	case avroBoolean:
		if w.kind != avroBoolean {
			return mismatch()
		}
		if rt.Kind() != reflect.Bool {
			break
		}
		return func(r *avroReader, v reflect.Value) error {
			b, err := r.boolean()
			v.SetBool(b)
			return err
		}, nil
	case avroInt, avroLong:
		if w.kind != avroInt && (rd.kind == avroInt || w.kind != avroLong) {
			return mismatch()
		}
		return intDec(w, rd, rt)
	case avroFloat, avroDouble:
		read := numberReader(w.kind)
		if read == nil || rd.kind == avroFloat && w.kind == avroDouble {
			return mismatch()
		}
		if !isFloat(rt) {
			break
		}
		return func(r *avroReader, v reflect.Value) error {
			f, err := read(r)
			v.SetFloat(f)
			return err
		}, nil
	case avroBytes, avroString:
		if w.kind != avroBytes && w.kind != avroString {
			return mismatch()
		}
		if err := decimalsMatch(w, rd); err != nil {
			return nil, err
		}
		return bytesDec(rd, rt, (*avroReader).bytes)
	case avroFixed:
		if w.kind == avroFixed && w.size != rd.size {
			return nil, fmt.Errorf("the writer's %s of %d bytes cannot be read as the reader's of %d", w, w.size, rd.size)
		}
		if w.kind != avroFixed || !namesMatch(w, rd) {
			return mismatch()
		}
		if err := decimalsMatch(w, rd); err != nil {
			return nil, err
		}
		size := w.size
		return bytesDec(rd, rt, func(r *avroReader) ([]byte, error) { return r.fixed(size) })
	case avroEnum:
		if w.kind != avroEnum || !namesMatch(w, rd) {
			return mismatch()
		}
		return enumDec(w, rd, rt)
	case avroArray:
		if w.kind != avroArray {
			return mismatch()
		}
		return c.array(w, rd, rt)
	case avroMap:
		if w.kind != avroMap {
			return mismatch()
		}
		return c.mapping(w, rd, rt)
	case avroRecord:
		if w.kind != avroRecord || !namesMatch(w, rd) {
			return mismatch()
		}
		return c.record(w, rd, rt)
	}
	return nil, fmt.Errorf("a %s cannot hold the reader's %s", rt, rd)
}

// namesMatch says whether a named type of the writer resolves to the reader's: the same
// unqualified name, or the writer's full name among the reader's aliases (as Java checks).
func namesMatch(w, rd *avroType) bool {
	if shortName(w.name) == shortName(rd.name) {
		return true
	}
	for _, a := range rd.aliases {
		if a == w.name {
			return true
		}
	}
	return false
}

// decimalsMatch refuses two decimals of different scales, which the specification does
// not resolve: their bytes would be read as another number (12.50 at scale 2 as 0.1250 at
// scale 4). Java ignores the mismatch; eddy names it when the topology is built.
func decimalsMatch(w, rd *avroType) error {
	if w.logical == "decimal" && rd.logical == "decimal" && w.scale != rd.scale {
		return fmt.Errorf("the writer's decimal of scale %d cannot be read as the reader's of scale %d", w.scale, rd.scale)
	}
	return nil
}

// numberReader reads a writer's number as a float64, for the promotions to float and double.
func numberReader(k avroKind) func(*avroReader) (float64, error) {
	switch k {
	case avroInt, avroLong:
		return func(r *avroReader) (float64, error) {
			n, err := r.long()
			if k == avroInt && (n < math.MinInt32 || n > math.MaxInt32) {
				return 0, fmt.Errorf("an int of %d does not fit 32 bits", n)
			}
			return float64(n), err
		}
	case avroFloat:
		return (*avroReader).float
	case avroDouble:
		return (*avroReader).double
	}
	return nil
}

// intDec reads an int or long into a Go integer (checking it fits) or a time.Time.
func intDec(w, rd *avroType, rt reflect.Type) (avroDec, error) {
	read := (*avroReader).long
	if w.kind == avroInt {
		read = (*avroReader).int
	}
	if rt == timeType {
		// The writer's unit, when it names one: a timestamp-micros read as a reader's
		// timestamp-millis is the same instant, not a thousand times later.
		unit := rd.logical
		if w.logical != "" {
			unit = w.logical
		}
		var conv func(int64) time.Time
		switch unit {
		case "timestamp-millis", "local-timestamp-millis":
			conv = func(n int64) time.Time { return time.UnixMilli(n).UTC() }
		case "timestamp-micros", "local-timestamp-micros":
			conv = func(n int64) time.Time { return time.UnixMicro(n).UTC() }
		case "timestamp-nanos":
			conv = func(n int64) time.Time { return time.Unix(0, n).UTC() }
		case "date":
			conv = func(n int64) time.Time { return time.Unix(n*86400, 0).UTC() }
		default:
			return nil, fmt.Errorf("a time.Time needs a timestamp or date logical type, not %s", rd)
		}
		return func(r *avroReader, v reflect.Value) error {
			n, err := read(r)
			if err != nil {
				return err
			}
			v.Set(reflect.ValueOf(conv(n)))
			return nil
		}, nil
	}
	switch rt.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(r *avroReader, v reflect.Value) error {
			n, err := read(r)
			if err != nil {
				return err
			}
			if v.OverflowInt(n) {
				return fmt.Errorf("%d does not fit a %s", n, v.Type())
			}
			v.SetInt(n)
			return nil
		}, nil
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return func(r *avroReader, v reflect.Value) error {
			n, err := read(r)
			if err != nil {
				return err
			}
			if n < 0 || v.OverflowUint(uint64(n)) {
				return fmt.Errorf("%d does not fit a %s", n, v.Type())
			}
			v.SetUint(uint64(n))
			return nil
		}, nil
	}
	return nil, fmt.Errorf("a %s cannot hold the reader's %s", rt, rd)
}

// bytesDec reads bytes, a string or a fixed into a Go string, []byte, [N]byte or Decimal,
// copying them out of the input.
func bytesDec(rd *avroType, rt reflect.Type, read func(*avroReader) ([]byte, error)) (avroDec, error) {
	switch {
	case rd.logical == "decimal" && rt == decimalType:
		scale, precision := rd.scale, rd.precision
		limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil)
		return func(r *avroReader, v reflect.Value) error {
			b, err := read(r)
			if err != nil {
				return err
			}
			u := fromTwosComplement(b)
			if new(big.Int).Abs(u).Cmp(limit) >= 0 {
				return fmt.Errorf("a decimal of more digits than the reader's precision %d", precision)
			}
			v.Set(reflect.ValueOf(Decimal{Unscaled: u, Scale: scale}))
			return nil
		}, nil
	case rt.Kind() == reflect.String:
		return func(r *avroReader, v reflect.Value) error {
			b, err := read(r)
			v.SetString(string(b))
			return err
		}, nil
	case isByteSlice(rt):
		return func(r *avroReader, v reflect.Value) error {
			b, err := read(r)
			v.SetBytes(append([]byte{}, b...))
			return err
		}, nil
	case rd.kind == avroFixed && rt.Kind() == reflect.Array && rt.Elem().Kind() == reflect.Uint8 && rt.Len() == rd.size:
		return func(r *avroReader, v reflect.Value) error {
			b, err := read(r)
			for i, c := range b {
				v.Index(i).SetUint(uint64(c))
			}
			return err
		}, nil
	}
	return nil, fmt.Errorf("a %s cannot hold the reader's %s", rt, rd)
}

func fromTwosComplement(b []byte) *big.Int {
	u := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return u
}

// enumDec maps the writer's symbol index to the reader's symbol: by name, or to the
// reader's default when it lacks the symbol, or to an error when it has no default.
func enumDec(w, rd *avroType, rt reflect.Type) (avroDec, error) {
	if rt.Kind() != reflect.String {
		return nil, fmt.Errorf("a %s cannot hold the reader's %s", rt, rd)
	}
	syms := make([]string, len(w.symbols))
	missing := make([]bool, len(w.symbols))
	for i, s := range w.symbols {
		switch {
		case slices.Contains(rd.symbols, s):
			syms[i] = s
		case rd.hasEDef:
			syms[i] = rd.enumDef
		default:
			missing[i] = true
		}
	}
	return func(r *avroReader, v reflect.Value) error {
		i, err := r.int()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(syms)) {
			return fmt.Errorf("symbol index %d of %s, which has %d symbols", i, w, len(syms))
		}
		if missing[i] {
			return fmt.Errorf("the writer's symbol %s is not in the reader's %s, which has no default", w.symbols[i], rd)
		}
		v.SetString(syms[i])
		return nil
	}, nil
}

func (c *avroDecCompiler) array(w, rd *avroType, rt reflect.Type) (avroDec, error) {
	if rt.Kind() != reflect.Slice {
		return nil, fmt.Errorf("a %s cannot hold the reader's %s (a slice can)", rt, rd)
	}
	item, err := c.compile(w.items, rd.items, rt.Elem())
	if err != nil {
		return nil, fmt.Errorf("array items: %w", err)
	}
	return func(r *avroReader, v reflect.Value) error {
		for {
			n, err := r.blockCount()
			if err != nil {
				return err
			}
			if n == 0 {
				if v.IsNil() {
					v.Set(reflect.MakeSlice(rt, 0, 0)) // an empty array is empty, not nil, as in encoding/json
				}
				return nil
			}
			if err := r.spend(n); err != nil {
				return err
			}
			if v.IsNil() {
				v.Set(reflect.MakeSlice(rt, 0, int(n)))
			} else {
				v.Grow(int(n))
			}
			for range n {
				i := v.Len()
				v.SetLen(i + 1)
				if err := item(r, v.Index(i)); err != nil {
					return fmt.Errorf("item %d: %w", i, err)
				}
			}
		}
	}, nil
}

func (c *avroDecCompiler) mapping(w, rd *avroType, rt reflect.Type) (avroDec, error) {
	if rt.Kind() != reflect.Map || rt.Key().Kind() != reflect.String {
		return nil, fmt.Errorf("a %s cannot hold the reader's %s (a map with string keys can)", rt, rd)
	}
	val, err := c.compile(w.values, rd.values, rt.Elem())
	if err != nil {
		return nil, fmt.Errorf("map values: %w", err)
	}
	return func(r *avroReader, v reflect.Value) error {
		if v.IsNil() {
			v.Set(reflect.MakeMap(rt))
		}
		for {
			n, err := r.blockCount()
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			if n > int64(len(r.b)-r.pos) { // every entry has at least its key's length byte
				return fmt.Errorf("a map block of %d entries with %d bytes left", n, len(r.b)-r.pos)
			}
			if err := r.spend(n); err != nil {
				return err
			}
			for range n {
				kb, err := r.bytes()
				if err != nil {
					return err
				}
				key := reflect.New(rt.Key()).Elem()
				key.SetString(string(kb))
				elem := reflect.New(rt.Elem()).Elem()
				if err := val(r, elem); err != nil {
					return fmt.Errorf("map value %q: %w", kb, err)
				}
				v.SetMapIndex(key, elem)
			}
		}
	}, nil
}

// writerUnion reads the writer's branch index and resolves that branch. A branch the
// reader cannot hold fails only for the records that use it, as in Java; a union none of
// whose branches the reader can hold fails here.
func (c *avroDecCompiler) writerUnion(w, rd *avroType, rt reflect.Type) (avroDec, error) {
	decs := make([]avroDec, len(w.branches))
	errs := make([]error, len(w.branches))
	ok := false
	for i, b := range w.branches {
		decs[i], errs[i] = c.compile(b, rd, rt)
		ok = ok || errs[i] == nil
	}
	if !ok {
		return nil, fmt.Errorf("no branch of the writer's %s can be read as the reader's %s: %w", w, rd, errors.Join(errs...))
	}
	return func(r *avroReader, v reflect.Value) error {
		i, err := r.int()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(decs)) {
			return fmt.Errorf("union branch %d of %s, which has %d", i, w, len(decs))
		}
		if errs[i] != nil {
			return errs[i]
		}
		return decs[i](r, v)
	}, nil
}

// readerUnion reads a value the writer wrote without a union into the reader's union of
// null and one type: the writer's null is a nil pointer (or the zero value), anything
// else is resolved against the non-null branch.
func (c *avroDecCompiler) readerUnion(w, rd *avroType, rt reflect.Type) (avroDec, error) {
	var other *avroType
	hasNull := false
	for _, b := range rd.branches {
		if b.kind == avroNull {
			hasNull = true
		} else if other != nil {
			return nil, fmt.Errorf("the reader's %s has several non-null branches, which only a Go field of type any holds", rd)
		} else {
			other = b
		}
	}
	if w.kind == avroNull {
		if !hasNull {
			return nil, fmt.Errorf("the writer's null cannot be read as the reader's %s", rd)
		}
		return func(_ *avroReader, v reflect.Value) error {
			v.SetZero()
			return nil
		}, nil
	}
	if other == nil {
		return nil, fmt.Errorf("the writer's %s cannot be read as the reader's %s", w, rd)
	}
	if rt.Kind() != reflect.Pointer || !hasNull {
		return c.compile(w, other, rt)
	}
	inner, err := c.compile(w, other, rt.Elem())
	if err != nil {
		return nil, err
	}
	elem := rt.Elem()
	return func(r *avroReader, v reflect.Value) error {
		p := reflect.New(elem)
		if err := inner(r, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}, nil
}

// record reads the writer's fields in the writer's order: into the reader's field of the
// same name (or with that name among its aliases), or skipped when the reader has none.
// The reader's fields the writer lacks get their defaults; one without a default makes
// the schemas incompatible (resolveFields).
func (c *avroDecCompiler) record(w, rd *avroType, rt reflect.Type) (avroDec, error) {
	if rt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("a %s cannot hold the reader's %s", rt, rd)
	}
	return memoRecord(c.records, decKey{w, rd, rt}, indirectDec, func() (avroDec, error) {
		goFields, err := structFields(rt)
		if err != nil {
			return nil, err
		}
		plan, err := resolveFields(w, rd)
		if err != nil {
			return nil, err
		}
		type step struct {
			index []int   // the Go field, nil to skip
			dec   avroDec // reads the writer's field, or the default
			def   []byte  // a default's encoding in the reader's type
			name  string
		}
		var steps []step
		for _, f := range plan {
			gf, ok := reflect.StructField{}, false
			if f.r != nil {
				gf, ok = goFields[f.r.name]
			}
			switch {
			case !ok && f.w == nil:
				continue // a default for a field Go lacks
			case !ok:
				skip := compileAvroSkip(f.w.typ) // the reader lacks it, or Go does
				steps = append(steps, step{dec: func(r *avroReader, _ reflect.Value) error { return skip(r) }, name: f.w.name})
				continue
			}
			wt := f.r.typ
			if f.w != nil {
				wt = f.w.typ
			}
			dec, err := c.compile(wt, f.r.typ, gf.Type)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.r.name, err)
			}
			steps = append(steps, step{index: gf.Index, dec: dec, def: f.def, name: f.r.name})
		}
		return func(r *avroReader, v reflect.Value) error {
			for i := range steps {
				s := &steps[i]
				var fv reflect.Value
				if s.index != nil {
					fv = v.FieldByIndex(s.index)
				}
				src := r
				if s.def != nil {
					src = &avroReader{b: s.def}
				}
				if err := s.dec(src, fv); err != nil {
					return fmt.Errorf("field %s: %w", s.name, err)
				}
			}
			return nil
		}, nil
	})
}

func indirectDec(p *avroDec) avroDec {
	return func(r *avroReader, v reflect.Value) error { return (*p)(r, v) }
}

// memoRecord compiles a record's function once per key: a record met again while it is
// being compiled (a recursive type) gets an indirection through the slot filled when it is
// done. A failed compile is not kept: a union branch's failure is tolerated (writerUnion),
// and a later use of the pair must fail as this one did, not find an empty slot.
func memoRecord[K comparable, F any](m map[K]*F, key K, indirect func(*F) F, build func() (F, error)) (F, error) {
	if p, ok := m[key]; ok {
		return indirect(p), nil
	}
	slot := new(F)
	m[key] = slot
	f, err := build()
	if err != nil {
		delete(m, key)
		var zero F
		return zero, err
	}
	*slot = f
	return f, nil
}

// fieldStep is one step of reading a record: a writer's field read into the reader's (w
// and r set), or skipped (r nil), or a reader's field the writer lacks, read from its
// default's encoding (w nil, def set).
type fieldStep struct {
	w, r *avroField
	def  []byte
}

// resolveFields plans how the reader's record reads the writer's: the writer's fields in
// its order, each matched to the reader's by name, then by the reader's aliases; then the
// reader's fields the writer lacks, with their defaults.
func resolveFields(w, rd *avroType) ([]fieldStep, error) {
	var plan []fieldStep
	used := map[*avroField]bool{}
	for _, wf := range w.fields {
		rf := readerField(rd, wf.name)
		if rf != nil {
			used[rf] = true
		}
		plan = append(plan, fieldStep{w: wf, r: rf})
	}
	for _, rf := range rd.fields {
		if used[rf] {
			continue
		}
		if rf.def == nil {
			return nil, fmt.Errorf("the reader's %s has a field %s that the writer's %s lacks, and it has no default", rd, rf.name, w)
		}
		def, err := encodeAvroDefault(rf.typ, rf.def)
		if err != nil {
			return nil, fmt.Errorf("field %s: default: %w", rf.name, err)
		}
		plan = append(plan, fieldStep{r: rf, def: def})
	}
	return plan, nil
}

// readerField finds the reader's field for a writer's field: by name, then by alias.
func readerField(rd *avroType, name string) *avroField {
	for _, f := range rd.fields {
		if f.name == name {
			return f
		}
	}
	for _, f := range rd.fields {
		for _, a := range f.aliases {
			if a == name {
				return f
			}
		}
	}
	return nil
}
