package serde

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The golden tests hold eddy's Avro codec to Apache Avro for Java (serde/testdata/avro,
// made by its gen/run): eddy decodes the bytes Java wrote, writes them again byte for
// byte, and resolves writer and reader schemas to the values Java's resolving reader gives.
// Expected values are Java's JSON, encoded by the test's own reader of Avro's JSON encoding
// (goavro reads bytes in JSON as UTF-8, not as the code points Avro's JSON encoding uses);
// the Go types come from the schemas (goTypeFor), as a user would write them.

// goTypeFor is the Go type a user would give schema t: a struct per record, a pointer for
// a union of null and one type, any for a union of several.
func goTypeFor(t *avroType) reflect.Type {
	switch t.kind {
	case avroNull:
		return reflect.TypeFor[struct{}]()
	case avroUnion:
		var other []*avroType
		for _, b := range t.branches {
			if b.kind != avroNull {
				other = append(other, b)
			}
		}
		switch {
		case len(other) == 1 && len(t.branches) == 2:
			return reflect.PointerTo(goTypeFor(other[0]))
		case len(other) == 1:
			return goTypeFor(other[0])
		}
		return anyType
	case avroArray:
		return reflect.SliceOf(goTypeFor(t.items))
	case avroMap:
		return reflect.MapOf(reflect.TypeFor[string](), goTypeFor(t.values))
	case avroRecord:
		fields := make([]reflect.StructField, len(t.fields))
		for i, f := range t.fields {
			fields[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: goTypeFor(f.typ), Tag: reflect.StructTag(`avro:"` + f.name + `"`)}
		}
		return reflect.StructOf(fields)
	}
	return naturalType(t)
}

func readAvroFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAvroGoldenEncodings(t *testing.T) {
	files, err := filepath.Glob("testdata/avro/golden/*.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".golden")
		t.Run(name, func(t *testing.T) {
			text := readAvroFile(t, "testdata/avro/golden/"+name+".avsc")
			schema, err := checkAvroSchema(text)
			if err != nil {
				t.Fatal(err)
			}
			rt := goTypeFor(schema)
			enc, err := compileAvroEnc(schema, rt)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := compileAvroDec(schema, schema, rt)
			if err != nil {
				t.Fatal(err)
			}
			var cases []struct {
				JSON json.RawMessage `json:"json"`
				Hex  string          `json:"hex"`
			}
			if err := json.Unmarshal([]byte(readAvroFile(t, file)), &cases); err != nil {
				t.Fatal(err)
			}
			for i, c := range cases {
				java, err := hex.DecodeString(c.Hex)
				if err != nil {
					t.Fatal(err)
				}
				// The golden bytes are the JSON's value (written with sorted map keys).
				fromJSON := avroTextToBinary(t, schema, c.JSON)
				// eddy reads Java's bytes and writes them again.
				v := reflect.New(rt).Elem()
				r := avroReader{b: java}
				if err := dec(&r, v); err != nil || r.pos != len(java) {
					t.Fatalf("case %d: eddy cannot read Java's %x: %v (%d of %d bytes read)", i, java, err, r.pos, len(java))
				}
				mine, err := enc(nil, v)
				if err != nil {
					t.Fatalf("case %d: eddy cannot write what it read: %v", i, err)
				}
				if !bytes.Equal(mine, java) {
					// Only a map of several entries may differ: eddy sorts keys, Java keeps its
					// order; then eddy's bytes must be the JSON's value with keys sorted.
					if !strings.Contains(text, `"map"`) || !bytes.Equal(mine, fromJSON) {
						t.Fatalf("case %d:\n eddy %x\n java %x", i, mine, java)
					}
				} else if !bytes.Equal(fromJSON, java) && !strings.Contains(text, `"map"`) {
					t.Fatalf("case %d: the golden bytes are not the JSON's value:\n json %x\n java %x", i, fromJSON, java)
				}
			}
		})
	}
}

func TestAvroGoldenResolution(t *testing.T) {
	files, err := filepath.Glob("testdata/avro/resolve/*.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no resolution cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".golden")
		t.Run(name, func(t *testing.T) {
			base := "testdata/avro/resolve/" + name
			wtext, rtext := readAvroFile(t, base+".writer.avsc"), readAvroFile(t, base+".reader.avsc")
			writer, err := checkAvroSchema(wtext)
			if err != nil {
				t.Fatal(err)
			}
			reader, err := checkAvroSchema(rtext)
			if err != nil {
				t.Fatal(err)
			}
			rt := goTypeFor(reader)
			golden := []byte(readAvroFile(t, file))
			dec, cerr := compileAvroDec(writer, reader, rt)
			var whole struct{ Error string }
			if json.Unmarshal(golden, &whole) == nil && whole.Error != "" {
				// Java refuses the pair: so must eddy, when the topology is built.
				if cerr == nil {
					t.Fatalf("Java refuses the pair (%s); eddy compiled a decoder", whole.Error)
				}
				t.Logf("Java: %s; eddy: %v", whole.Error, cerr)
				return
			}
			if cerr != nil {
				t.Fatalf("Java resolves the pair; eddy: %v", cerr)
			}
			enc, err := compileAvroEnc(reader, rt)
			if err != nil {
				t.Fatal(err)
			}
			var cases []struct {
				WriterHex  string          `json:"writer_hex"`
				ReaderJSON json.RawMessage `json:"reader_json"`
				Error      string          `json:"error"`
			}
			if err := json.Unmarshal(golden, &cases); err != nil {
				t.Fatal(err)
			}
			for i, c := range cases {
				in, err := hex.DecodeString(c.WriterHex)
				if err != nil {
					t.Fatal(err)
				}
				v := reflect.New(rt).Elem()
				r := avroReader{b: in}
				derr := dec(&r, v)
				if c.Error != "" {
					if derr == nil {
						t.Fatalf("case %d: Java fails (%s); eddy read %v", i, c.Error, v)
					}
					continue
				}
				if derr != nil || r.pos != len(in) {
					t.Fatalf("case %d: eddy cannot resolve %x: %v (%d of %d bytes read)", i, in, derr, r.pos, len(in))
				}
				mine, err := enc(nil, v)
				if err != nil {
					t.Fatalf("case %d: eddy cannot write the resolved value: %v", i, err)
				}
				if name == "bytes_to_string" {
					// Java decodes invalid UTF-8 as U+FFFD; Go strings keep the bytes.
					fixUTF8(v)
					if mine, err = enc(nil, v); err != nil {
						t.Fatal(err)
					}
				}
				if want := avroTextToBinary(t, reader, c.ReaderJSON); !bytes.Equal(mine, want) {
					t.Fatalf("case %d: eddy resolved %x to %x, Java to %s (%x)", i, in, mine, c.ReaderJSON, want)
				}
			}
		})
	}
}

// fixUTF8 replaces invalid UTF-8 in the strings of a decoded value, as Java decodes it.
func fixUTF8(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(strings.ToValidUTF8(v.String(), "\uFFFD"))
	case reflect.Struct:
		for i := range v.NumField() {
			fixUTF8(v.Field(i))
		}
	}
}

// avroTextToBinary encodes a value in Avro's JSON encoding (Java's JsonEncoder: a union's
// value is null or {"branch": value}, bytes are strings of code points 0–255) in the binary
// encoding, with map keys sorted as eddy writes them.
func avroTextToBinary(t *testing.T, schema *avroType, text json.RawMessage) []byte {
	t.Helper()
	v, err := avroDefault(text)
	if err != nil {
		t.Fatal(err)
	}
	b, err := appendAvroText(nil, schema, v)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return b
}

func appendAvroText(dst []byte, t *avroType, v any) ([]byte, error) {
	switch t.kind {
	case avroUnion:
		if v == nil {
			for i, b := range t.branches {
				if b.kind == avroNull {
					return appendLong(dst, int64(i)), nil
				}
			}
			return nil, fmt.Errorf("null for %s", t)
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("%v is not a union value of %s", v, t)
		}
		for name, x := range m {
			for i, b := range t.branches {
				if b.name == name || b.name == "" && b.kind.String() == name {
					return appendAvroText(appendLong(dst, int64(i)), b, x)
				}
			}
			return nil, fmt.Errorf("no branch %s in %s", name, t)
		}
	case avroArray:
		items, _ := v.([]any)
		return appendAvroArray(dst, items, func(dst []byte, it any) ([]byte, error) { return appendAvroText(dst, t.items, it) })
	case avroMap:
		m, _ := v.(map[string]any)
		return appendAvroMap(dst, m, func(dst []byte, x any) ([]byte, error) { return appendAvroText(dst, t.values, x) })
	case avroRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%v is not a record %s", v, t)
		}
		for _, f := range t.fields {
			var err error
			if dst, err = appendAvroText(dst, f.typ, m[f.name]); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.name, err)
			}
		}
		return dst, nil
	}
	return appendAvroJSON(dst, t, v) // the primitives, enums and fixed: as in defaults
}

// Where eddy deliberately differs from Java 1.12.2, or follows a rule the Java cases do
// not reach: decimals of different scales are refused (Java reads the bytes at the
// reader's scale, another number); a timestamp read in another unit is the same instant
// (Java reads the raw long); a union's default may be of a later branch (Avro 1.12); an
// unqualified name is looked up in the enclosing namespace first.
func TestAvroResolutionBeyondJava(t *testing.T) {
	parse := func(text string) *avroType {
		t.Helper()
		s, err := checkAvroSchema(text)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dec := func(scale int) *avroType {
		return parse(fmt.Sprintf(`{"type":"bytes","logicalType":"decimal","precision":10,"scale":%d}`, scale))
	}
	if _, err := compileAvroDec(dec(2), dec(4), decimalType); err == nil || !strings.Contains(err.Error(), "scale 2") {
		t.Errorf("decimals of scales 2 and 4: %v, want a refusal", err)
	}
	if _, err := compileAvroDec(dec(2), dec(2), decimalType); err != nil {
		t.Error(err)
	}

	micros, millis := parse(`{"type":"long","logicalType":"timestamp-micros"}`), parse(`{"type":"long","logicalType":"timestamp-millis"}`)
	d, err := compileAvroDec(micros, millis, timeType)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMicro(1700000000123456).UTC()
	v := reflect.New(timeType).Elem()
	if err := d(&avroReader{b: appendLong(nil, at.UnixMicro())}, v); err != nil || !v.Interface().(time.Time).Equal(at) {
		t.Errorf("micros read as millis: %v (%v), want %v", v, err, at)
	}

	later := parse(`{"type":"record","name":"R","fields":[{"name":"s","type":["null","string"],"default":"x"}]}`)
	def, err := encodeAvroDefault(later.fields[0].typ, later.fields[0].def)
	if err != nil || !bytes.Equal(def, []byte{2, 2, 'x'}) {
		t.Errorf("default of the second branch: %x, %v", def, err)
	}

	scoped := parse(`{"type":"record","name":"R","namespace":"com.x","fields":[
 {"name":"a","type":{"type":"fixed","name":"F","namespace":"","size":1}},
 {"name":"b","type":{"type":"fixed","name":"F","size":2}},
 {"name":"c","type":"F"}]}`)
	if got := scoped.fields[2].typ; got.name != "com.x.F" || got.size != 2 {
		t.Errorf("F in namespace com.x resolves to %s of size %d, want com.x.F of size 2", got.name, got.size)
	}
}
