package serde

import (
	"os"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

// A proto2 file with what shop.proto lacks: enum aliases, required fields, defaults of
// every kind (inf and nan included), packed repeated fields and a map before a nested
// message. Its printed text is testdata/proto/legacy.schema, which protoc accepts
// (checked when it was made: protoc --descriptor_set_out=/dev/null legacy.proto).
func TestProtoFileTextProto2(t *testing.T) {
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("legacy.proto"),
		Package: proto.String("eddy.legacy"),
		Syntax:  proto.String("proto2"),
		Options: &descriptorpb.FileOptions{JavaPackage: proto.String("com.example.legacy"), JavaMultipleFiles: proto.Bool(true)},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name:    proto.String("Level"),
			Options: &descriptorpb.EnumOptions{AllowAlias: proto.Bool(true)},
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("LOW"), Number: proto.Int32(0)},
				{Name: proto.String("MINOR"), Number: proto.Int32(0)},
				{Name: proto.String("HIGH"), Number: proto.Int32(1)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Reading"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("id"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
				{Name: proto.String("tags"), Number: proto.Int32(2), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".eddy.legacy.Reading.TagsEntry")},
				{Name: proto.String("max"), Number: proto.Int32(3), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_DOUBLE.Enum(), DefaultValue: proto.String("inf")},
				{Name: proto.String("bad"), Number: proto.Int32(4), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_FLOAT.Enum(), DefaultValue: proto.String("nan")},
				{Name: proto.String("name"), Number: proto.Int32(5), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), DefaultValue: proto.String(`say "hi"`)},
				{Name: proto.String("level"), Number: proto.Int32(6), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_ENUM.Enum(), TypeName: proto.String(".eddy.legacy.Level"), DefaultValue: proto.String("HIGH")},
				{Name: proto.String("samples"), Number: proto.Int32(7), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_SINT32.Enum(), Options: &descriptorpb.FieldOptions{Packed: proto.Bool(true)}},
				{Name: proto.String("first"), Number: proto.Int32(8), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".eddy.legacy.Reading.Part")},
			},
			NestedType: []*descriptorpb.DescriptorProto{
				{
					Name:    proto.String("TagsEntry"),
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
					Field: []*descriptorpb.FieldDescriptorProto{
						{Name: proto.String("key"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
						{Name: proto.String("value"), Number: proto.Int32(2), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()},
					},
				},
				{Name: proto.String("Part"), Field: []*descriptorpb.FieldDescriptorProto{
					{Name: proto.String("n"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(), DefaultValue: proto.String("-7")},
				}},
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := protoFileText(fd)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("EDDY_WRITE_GOLDEN") != "" {
		if err := os.WriteFile("testdata/proto/legacy.schema", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile("testdata/proto/legacy.schema")
	if err != nil {
		t.Fatal(err)
	}
	if text != string(golden) {
		t.Fatalf("schema text:\n%s\nwant (testdata/proto/legacy.schema):\n%s", text, golden)
	}
	if got := messageIndex(fd.Messages().Get(0).Messages().ByName("Part")); len(got) != 2 || got[0] != 0 || got[1] != 0 {
		t.Fatalf("Reading.Part's indexes %v, want [0 0] (the map entry is not counted)", got)
	}
	msgs, pkg, err := protoMessages(text)
	if err != nil || pkg != "eddy.legacy" || len(msgs) != 2 || msgs[1].name != "Reading.Part" || msgs[1].index[1] != 0 {
		t.Fatalf("messages %v in %q (%v)", msgs, pkg, err)
	}
}
