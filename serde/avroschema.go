package serde

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// avroKind is the kind of an Avro schema node.
type avroKind int

const (
	avroNull avroKind = iota
	avroBoolean
	avroInt
	avroLong
	avroFloat
	avroDouble
	avroBytes
	avroString
	avroRecord
	avroEnum
	avroArray
	avroMap
	avroUnion
	avroFixed
)

var avroPrimitives = map[string]avroKind{
	"null": avroNull, "boolean": avroBoolean, "int": avroInt, "long": avroLong,
	"float": avroFloat, "double": avroDouble, "bytes": avroBytes, "string": avroString,
}

func (k avroKind) String() string {
	switch k {
	case avroRecord:
		return "record"
	case avroEnum:
		return "enum"
	case avroArray:
		return "array"
	case avroMap:
		return "map"
	case avroUnion:
		return "union"
	case avroFixed:
		return "fixed"
	}
	for name, p := range avroPrimitives {
		if p == k {
			return name
		}
	}
	return fmt.Sprintf("avroKind(%d)", int(k))
}

// avroType is one node of a parsed schema. Named types (records, enums, fixed) appear once
// and are shared by pointer wherever the schema refers to them by name, so a recursive
// record is a cycle of pointers.
type avroType struct {
	kind     avroKind
	name     string // full name of a named type
	aliases  []string
	fields   []*avroField // record
	symbols  []string     // enum
	enumDef  string       // enum: the default symbol, "" for none
	hasEDef  bool
	items    *avroType   // array
	values   *avroType   // map
	branches []*avroType // union
	size     int         // fixed

	// logical is the logical type the schema names ("timestamp-millis", "decimal", …),
	// or "" when it names none or one this package does not know, which Avro says to
	// ignore: the value is then read as its underlying type.
	logical   string
	precision int
	scale     int
}

// avroField is a field of a record.
type avroField struct {
	name    string
	aliases []string
	typ     *avroType
	def     json.RawMessage // nil: no default
}

// String names the type as an error message should: a named type by its full name, a
// logical type with its underlying type.
func (t *avroType) String() string {
	switch {
	case t.name != "":
		return t.kind.String() + " " + t.name
	case t.kind == avroArray:
		return "array of " + t.items.String()
	case t.kind == avroMap:
		return "map of " + t.values.String()
	case t.kind == avroUnion:
		names := make([]string, len(t.branches))
		for i, b := range t.branches {
			names[i] = b.String()
		}
		return "union [" + strings.Join(names, ", ") + "]"
	case t.logical != "":
		return t.kind.String() + " (" + t.logical + ")"
	}
	return t.kind.String()
}

// avroSchemaParser parses a schema's JSON. It expects goavro to have validated the text
// already (avroCodecFor does), but checks what it relies on rather than trusting that.
type avroSchemaParser struct {
	named map[string]*avroType
}

// parseAvroSchema parses the JSON text of a schema.
func parseAvroSchema(text string) (*avroType, error) {
	var raw any
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	p := &avroSchemaParser{named: map[string]*avroType{}}
	return p.parse(raw, "")
}

func (p *avroSchemaParser) parse(raw any, ns string) (*avroType, error) {
	switch v := raw.(type) {
	case string:
		return p.ref(v, ns)
	case []any:
		u := &avroType{kind: avroUnion}
		for _, b := range v {
			t, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			if t.kind == avroUnion {
				return nil, fmt.Errorf("a union may not hold a union")
			}
			u.branches = append(u.branches, t)
		}
		if len(u.branches) == 0 {
			return nil, fmt.Errorf("a union needs at least one branch")
		}
		return u, nil
	case map[string]any:
		return p.parseObject(v, ns)
	}
	return nil, fmt.Errorf("unexpected %T in schema", raw)
}

// ref resolves a type name: a primitive, or a named type defined earlier (Avro allows no
// forward references).
func (p *avroSchemaParser) ref(name, ns string) (*avroType, error) {
	if k, ok := avroPrimitives[name]; ok {
		return &avroType{kind: k}, nil
	}
	// An unqualified name is in the enclosing namespace first, as Java resolves it.
	if ns != "" && !strings.Contains(name, ".") {
		if t, ok := p.named[ns+"."+name]; ok {
			return t, nil
		}
	}
	if t, ok := p.named[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unknown type %q", name)
}

func (p *avroSchemaParser) parseObject(o map[string]any, ns string) (*avroType, error) {
	typ, _ := o["type"].(string)
	if typ == "" {
		if inner, ok := o["type"]; ok {
			// {"type": {"type": "array", …}} or {"type": ["null", "int"]}: the object only wraps.
			t, err := p.parse(inner, ns)
			if err != nil {
				return nil, err
			}
			return withLogical(t, o), nil
		}
		return nil, fmt.Errorf("a schema object needs a type")
	}
	switch typ {
	case "record", "error", "enum", "fixed":
		return p.parseNamed(typ, o, ns)
	case "array":
		items, err := p.parse(o["items"], ns)
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		return &avroType{kind: avroArray, items: items}, nil
	case "map":
		values, err := p.parse(o["values"], ns)
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		return &avroType{kind: avroMap, values: values}, nil
	}
	t, err := p.ref(typ, ns)
	if err != nil {
		return nil, err
	}
	if t.name != "" {
		return t, nil // {"type": "Address"}: a reference, never given a logical type
	}
	return withLogical(t, o), nil
}

// withLogical applies the logical type an object names to its underlying type when the
// pairing is one Avro defines; any other is ignored, as the specification says.
func withLogical(t *avroType, o map[string]any) *avroType {
	lt, _ := o["logicalType"].(string)
	if lt == "" || t.name != "" && t.kind != avroFixed {
		return t
	}
	c := *t
	switch {
	case (lt == "timestamp-millis" || lt == "timestamp-micros" || lt == "timestamp-nanos" ||
		lt == "local-timestamp-millis" || lt == "local-timestamp-micros" || lt == "time-micros") && t.kind == avroLong,
		(lt == "date" || lt == "time-millis") && t.kind == avroInt,
		lt == "uuid" && t.kind == avroString:
		c.logical = lt
	case lt == "decimal" && (t.kind == avroBytes || t.kind == avroFixed):
		prec, _ := jsonInt(o["precision"])
		scale, _ := jsonInt(o["scale"])
		if prec <= 0 || scale < 0 || scale > prec {
			return t // an invalid decimal is its underlying type, as in Java
		}
		c.logical, c.precision, c.scale = lt, prec, scale
	default:
		return t
	}
	if t.name != "" {
		// A logical fixed: the named type itself carries the logical type.
		*t = c
		return t
	}
	return &c
}

func jsonInt(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

func (p *avroSchemaParser) parseNamed(typ string, o map[string]any, ns string) (*avroType, error) {
	name, _ := o["name"].(string)
	if name == "" {
		return nil, fmt.Errorf("a %s needs a name", typ)
	}
	full := fullName(name, o, ns)
	if _, dup := p.named[full]; dup {
		return nil, fmt.Errorf("%s is defined twice", full)
	}
	space := namespaceOf(full)
	t := &avroType{name: full, aliases: aliasesOf(o, space)}
	p.named[full] = t // before the fields: a record may refer to itself
	switch typ {
	case "enum":
		t.kind = avroEnum
		syms, _ := o["symbols"].([]any)
		for _, s := range syms {
			str, ok := s.(string)
			if !ok {
				return nil, fmt.Errorf("enum %s: a symbol must be a string", full)
			}
			t.symbols = append(t.symbols, str)
		}
		if d, ok := o["default"].(string); ok {
			t.enumDef, t.hasEDef = d, true
		}
	case "fixed":
		t.kind = avroFixed
		size, ok := jsonInt(o["size"])
		if !ok || size < 0 {
			return nil, fmt.Errorf("fixed %s needs a size", full)
		}
		t.size = size
		withLogical(t, o)
	default:
		t.kind = avroRecord
		fields, ok := o["fields"].([]any)
		if !ok {
			return nil, fmt.Errorf("record %s needs a list of fields", full)
		}
		for _, f := range fields {
			fo, ok := f.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %s: a field must be an object", full)
			}
			fname, _ := fo["name"].(string)
			if fname == "" {
				return nil, fmt.Errorf("record %s: a field needs a name", full)
			}
			ft, err := p.parse(fo["type"], space)
			if err != nil {
				return nil, fmt.Errorf("record %s, field %s: %w", full, fname, err)
			}
			field := &avroField{name: fname, typ: ft}
			if d, ok := fo["default"]; ok {
				if field.def, err = json.Marshal(d); err != nil {
					return nil, fmt.Errorf("record %s, field %s: default: %w", full, fname, err)
				}
			}
			if as, ok := fo["aliases"].([]any); ok {
				for _, a := range as {
					if s, ok := a.(string); ok {
						field.aliases = append(field.aliases, s)
					}
				}
			}
			t.fields = append(t.fields, field)
		}
	}
	return t, nil
}

// fullName applies Avro's naming rules: a dotted name is full; otherwise the namespace
// attribute, else the enclosing one, qualifies it.
func fullName(name string, o map[string]any, ns string) string {
	if strings.Contains(name, ".") {
		return name
	}
	if space, ok := o["namespace"].(string); ok {
		ns = space
	}
	if ns == "" {
		return name
	}
	return ns + "." + name
}

func namespaceOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

func aliasesOf(o map[string]any, ns string) []string {
	as, _ := o["aliases"].([]any)
	var out []string
	for _, a := range as {
		if s, ok := a.(string); ok {
			if !strings.Contains(s, ".") && ns != "" {
				s = ns + "." + s
			}
			out = append(out, s)
		}
	}
	return out
}

// shortName is a full name without its namespace.
func shortName(full string) string { return full[strings.LastIndexByte(full, '.')+1:] }

// avroDefault decodes a field's default, kept as JSON, for the decoders that turn it into
// a value of the reader's type.
func avroDefault(def json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// validateAvro checks what the parser leaves: names, unique fields and symbols, an enum's
// default among its symbols, and that every field's default is a value of its type (the
// union's first branch, for a union), as Java checks when it parses a schema.
func validateAvro(t *avroType, seen map[*avroType]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.name != "" {
		for _, part := range strings.Split(t.name, ".") {
			if !avroName(part) {
				return fmt.Errorf("%q is not a valid name", t.name)
			}
		}
	}
	switch t.kind {
	case avroEnum:
		if len(t.symbols) == 0 {
			return fmt.Errorf("%s has no symbols", t)
		}
		for i, s := range t.symbols {
			if !avroName(s) || slices.Contains(t.symbols[:i], s) {
				return fmt.Errorf("%s: symbol %q is invalid or repeated", t, s)
			}
		}
		if t.hasEDef && !slices.Contains(t.symbols, t.enumDef) {
			return fmt.Errorf("%s: the default %q is not a symbol", t, t.enumDef)
		}
	case avroArray:
		return validateAvro(t.items, seen)
	case avroMap:
		return validateAvro(t.values, seen)
	case avroUnion:
		kinds := map[string]bool{}
		for _, b := range t.branches {
			key := b.kind.String() + " " + b.name
			if kinds[key] {
				return fmt.Errorf("%s has two branches of the same type", t)
			}
			kinds[key] = true
			if err := validateAvro(b, seen); err != nil {
				return err
			}
		}
	case avroRecord:
		names := map[string]bool{}
		for _, f := range t.fields {
			if !avroName(f.name) || names[f.name] {
				return fmt.Errorf("%s: field name %q is invalid or repeated", t, f.name)
			}
			names[f.name] = true
			if err := validateAvro(f.typ, seen); err != nil {
				return fmt.Errorf("%s, field %s: %w", t, f.name, err)
			}
			if f.def != nil {
				if _, err := encodeAvroDefault(f.typ, f.def); err != nil {
					return fmt.Errorf("%s, field %s: the default is not a value of its type: %w", t, f.name, err)
				}
			}
		}
	}
	return nil
}

// avroName says whether s is a valid Avro name: [A-Za-z_][A-Za-z0-9_]*.
func avroName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
