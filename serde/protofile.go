package serde

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protoFileText prints a file descriptor as .proto source, the schema text a registry
// keeps for a Protobuf subject: syntax, package, imports, and the messages and enums with
// their fields (maps, oneofs, proto3 optional, proto2 labels and defaults), enum aliases,
// and the file options that name other languages' generated code (java_package, …); other
// options are left out: they do not change the wire format. Editions files and groups are
// refused.
func protoFileText(fd protoreflect.FileDescriptor) (string, error) {
	var b strings.Builder
	switch fd.Syntax() {
	case protoreflect.Proto2:
		b.WriteString("syntax = \"proto2\";\n")
	case protoreflect.Proto3:
		b.WriteString("syntax = \"proto3\";\n")
	default:
		return "", fmt.Errorf("%s: syntax %s is not supported (proto2 and proto3 are)", fd.Path(), fd.Syntax())
	}
	if fd.Package() != "" {
		fmt.Fprintf(&b, "package %s;\n", fd.Package())
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		imp := imports.Get(i)
		switch {
		case imp.IsPublic:
			fmt.Fprintf(&b, "import public %q;\n", imp.Path())
		case imp.IsWeak:
			fmt.Fprintf(&b, "import weak %q;\n", imp.Path())
		default:
			fmt.Fprintf(&b, "import %q;\n", imp.Path())
		}
	}
	// The file options that name the generated code in other languages: Java consumers
	// that derive their classes from the registered schema need them.
	if o, ok := fd.Options().(*descriptorpb.FileOptions); ok && o != nil {
		for _, opt := range []struct {
			name string
			set  bool
			val  string
		}{
			{"java_package", o.JavaPackage != nil, strconv.Quote(o.GetJavaPackage())},
			{"java_outer_classname", o.JavaOuterClassname != nil, strconv.Quote(o.GetJavaOuterClassname())},
			{"java_multiple_files", o.JavaMultipleFiles != nil, strconv.FormatBool(o.GetJavaMultipleFiles())},
			{"go_package", o.GoPackage != nil, strconv.Quote(o.GetGoPackage())},
			{"csharp_namespace", o.CsharpNamespace != nil, strconv.Quote(o.GetCsharpNamespace())},
		} {
			if opt.set {
				fmt.Fprintf(&b, "option %s = %s;\n", opt.name, opt.val)
			}
		}
	}
	p := protoPrinter{b: &b, proto3: fd.Syntax() == protoreflect.Proto3}
	for i := range fd.Enums().Len() {
		p.enum(fd.Enums().Get(i), "")
	}
	for i := range fd.Messages().Len() {
		if err := p.message(fd.Messages().Get(i), ""); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

type protoPrinter struct {
	b      *strings.Builder
	proto3 bool
}

func (p protoPrinter) enum(ed protoreflect.EnumDescriptor, indent string) {
	fmt.Fprintf(p.b, "%senum %s {\n", indent, ed.Name())
	vals := ed.Values()
	numbers := map[protoreflect.EnumNumber]bool{}
	for i := range vals.Len() {
		if n := vals.Get(i).Number(); numbers[n] {
			fmt.Fprintf(p.b, "%s  option allow_alias = true;\n", indent) // two names for a number
			break
		} else {
			numbers[n] = true
		}
	}
	for i := range vals.Len() {
		v := vals.Get(i)
		fmt.Fprintf(p.b, "%s  %s = %d;\n", indent, v.Name(), v.Number())
	}
	fmt.Fprintf(p.b, "%s}\n", indent)
}

func (p protoPrinter) message(md protoreflect.MessageDescriptor, indent string) error {
	fmt.Fprintf(p.b, "%smessage %s {\n", indent, md.Name())
	inner := indent + "  "
	for i := range md.Enums().Len() {
		p.enum(md.Enums().Get(i), inner)
	}
	for i := range md.Messages().Len() {
		if nested := md.Messages().Get(i); !nested.IsMapEntry() { // map<K, V> fields stand for them
			if err := p.message(nested, inner); err != nil {
				return err
			}
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
			if o.Fields().Get(0) != f {
				continue // printed with the oneof's first field
			}
			fmt.Fprintf(p.b, "%soneof %s {\n", inner, o.Name())
			for j := range o.Fields().Len() {
				if err := p.field(o.Fields().Get(j), inner+"  ", true); err != nil {
					return err
				}
			}
			fmt.Fprintf(p.b, "%s}\n", inner)
			continue
		}
		if err := p.field(f, inner, false); err != nil {
			return err
		}
	}
	fmt.Fprintf(p.b, "%s}\n", indent)
	return nil
}

func (p protoPrinter) field(f protoreflect.FieldDescriptor, indent string, inOneof bool) error {
	if f.Kind() == protoreflect.GroupKind {
		return fmt.Errorf("%s: groups are not supported", f.FullName())
	}
	var label string
	switch {
	case f.IsMap():
		label = fmt.Sprintf("map<%s, %s>", protoTypeName(f.MapKey()), protoTypeName(f.MapValue()))
	case inOneof:
		label = protoTypeName(f)
	case f.Cardinality() == protoreflect.Repeated:
		label = "repeated " + protoTypeName(f)
	case f.Cardinality() == protoreflect.Required:
		label = "required " + protoTypeName(f)
	case !p.proto3 || f.HasOptionalKeyword():
		label = "optional " + protoTypeName(f)
	default:
		label = protoTypeName(f)
	}
	var opts []string
	if !p.proto3 && f.HasDefault() {
		opts = append(opts, "default = "+protoDefault(f))
	}
	if !p.proto3 && f.IsPacked() {
		opts = append(opts, "packed = true")
	}
	suffix := ""
	if len(opts) > 0 {
		suffix = " [" + strings.Join(opts, ", ") + "]"
	}
	fmt.Fprintf(p.b, "%s%s %s = %d%s;\n", indent, label, f.Name(), f.Number(), suffix)
	return nil
}

// protoTypeName is a field's type as .proto source writes it: a scalar's name, or a
// message's or enum's full name with a leading dot, which needs no scope resolution.
func protoTypeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind:
		return "." + string(f.Message().FullName())
	case protoreflect.EnumKind:
		return "." + string(f.Enum().FullName())
	}
	return f.Kind().String()
}

func protoDefault(f protoreflect.FieldDescriptor) string {
	v := f.Default()
	switch f.Kind() {
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		return strconv.Quote(string(v.Bytes()))
	case protoreflect.EnumKind:
		return string(f.DefaultEnumValue().Name())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch x := v.Float(); {
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		case math.IsNaN(x):
			return "nan"
		default:
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	}
	return fmt.Sprint(v.Interface())
}

// protoMessage is a message declared in .proto source: its name relative to the package
// (Outer.Inner) and its message indexes.
type protoMessage struct {
	name  string
	index []int
}

// protoMessages lists the messages a .proto source declares, with their message indexes,
// and its package. It reads only what it needs — comments, strings, "package", "message",
// braces — so it finds the messages of any valid file; it is not a validating parser.
func protoMessages(src string) ([]protoMessage, string, error) {
	toks, err := protoTokens(src)
	if err != nil {
		return nil, "", err
	}
	type scope struct {
		name   string // "" for a block that is not a message (enum, oneof, options)
		next   int    // the index of the next message declared in it
		prefix []int
	}
	stack := []scope{{}}
	var msgs []protoMessage
	pkg := ""
	pendingMessage := ""
	for i := 0; i < len(toks); i++ {
		switch t := toks[i]; t {
		case "package":
			if len(stack) == 1 && i+1 < len(toks) {
				pkg = toks[i+1]
			}
		case "message":
			// A declaration is "message Name {"; the word may also be a field's name.
			if i+2 < len(toks) && toks[i+2] == "{" && (len(stack) == 1 || stack[len(stack)-1].name != "") {
				pendingMessage = toks[i+1]
				i++
			}
		case "{":
			top := &stack[len(stack)-1]
			if pendingMessage == "" {
				stack = append(stack, scope{})
				continue
			}
			idx := append(append([]int(nil), top.prefix...), top.next)
			top.next++
			name := pendingMessage
			if top.name != "" {
				name = top.name + "." + pendingMessage
			}
			msgs = append(msgs, protoMessage{name: name, index: idx})
			stack = append(stack, scope{name: name, prefix: idx})
			pendingMessage = ""
		case "}":
			if len(stack) == 1 {
				return nil, "", fmt.Errorf("unbalanced braces in the .proto source")
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 1 {
		return nil, "", fmt.Errorf("unbalanced braces in the .proto source")
	}
	return msgs, pkg, nil
}

// protoTokens splits .proto source into words, dotted names and punctuation, without
// comments and string literals.
func protoTokens(src string) ([]string, error) {
	var toks []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("an unterminated comment in the .proto source")
			}
			i += end + 4
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("an unterminated string in the .proto source")
			}
			toks = append(toks, `""`)
			i = j + 1
		case c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '.' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, src[i:j])
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			toks = append(toks, string(c))
			i++
		}
	}
	return toks, nil
}
