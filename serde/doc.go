// Package serde turns Kafka record keys and values into Go values and back.
//
// Pick a Serde for the key and one for the value of each topic; encode into a
// buffer you reuse and decode from the bytes a consumer returns:
//
//	type Order struct {
//		ID    string `json:"id"`
//		Cents int64  `json:"cents"`
//	}
//
//	keys, values := serde.String(), serde.JSON[Order]()
//
//	var buf []byte
//	buf, err := values.AppendEncode(buf[:0], Order{ID: "o-1", Cents: 1299})
//	if err != nil {
//		return err
//	}
//	order, err := values.Decode(buf) // Order{ID: "o-1", Cents: 1299}
//	id, _ := keys.Decode([]byte("o-1"))
//
// # Wire formats
//
// The built-in serdes write the same bytes as the serializers that ship with
// Apache Kafka, so eddy reads and writes topics shared with Java producers,
// consumers and Kafka Streams applications:
//
//	Bytes    the bytes as they are            ByteArraySerializer
//	String   UTF-8, not validated             StringSerializer
//	Int32    4 bytes, big-endian              IntegerSerializer
//	Int64    8 bytes, big-endian              LongSerializer
//	Float64  8 bytes, big-endian IEEE 754     DoubleSerializer
//	JSON     encoding/json                    (no Kafka equivalent)
//	Avro...  Avro binary, Confluent framing   KafkaAvroSerializer (AvroConfluent)
//	Proto... Protobuf, Confluent framing      KafkaProtobufSerializer (ProtobufConfluent)
//
// Bytes and String are what Flink calls the raw format. For structs, [JSON] and [CSV]
// (one RFC 4180 line per record, the fields in order, no header: Flink's csv format);
// CSV is made with serde.CSV[T](), which returns an error for a T it cannot write:
//
//	lines, err := serde.CSV[Order]() // "o-1,1299"
//	if err != nil {
//		return err // e.g. a field of a type CSV does not write
//	}
//
// # Avro, Protobuf and the Schema Registry
//
// Avro writes structs (a schema derived from T or given), AvroGeneric writes goavro's
// generic records, and Protobuf writes protoc-gen-go messages; each alone writes only the
// payload. The Confluent serdes frame the payload with the schema's registry id (and, for
// Protobuf, the message indexes), as Confluent's serializers do, so eddy shares topics with
// every client of a Schema Registry:
//
//	reg, err := serde.NewRegistry(serde.RegistryURLs("http://registry:8081"))
//	orders, err := serde.AvroConfluent[Order](reg)               // any writer's version, resolved
//	totals, err := serde.AvroConfluent[Total](reg, serde.AutoRegister())
//	events, err := serde.ProtobufConfluent[*eventpb.Event](reg)
//
// A registry serde names its subject after the topic it serves (TopicName, Confluent's
// default): eddy binds it to each source, sink and store topic through [TopicSerde]; code
// of your own binds it with [ForTopic]. Each schema is fetched once per id and each id
// once per subject; a record never waits for the registry after the first of its schema.
//
// # Nil and tombstones
//
// Kafka's Java deserializers turn a nil payload (a tombstone) into null. Go's
// int64 or struct types have no null, so Decode treats nil like empty input:
// Bytes returns nil, String returns "", and the fixed-width and JSON serdes
// return an error. Code that must tell a tombstone apart checks for nil before
// decoding.
//
// Going out, zero bytes are an empty payload, not a tombstone: eddy writes ""
// (or any value a Serde encodes to nothing) as a present, empty key or value,
// as Kafka's serializers do. Only a Serde whose type has a null of its own says
// so, by implementing [Nullable]: Bytes does, for the nil slice, so a tombstone
// read with Bytes is written back as a tombstone.
//
// # Writing a Serde
//
// Any type with the two methods of [Serde] is one; there is nothing to
// register. Decode must not panic on bad input, must not keep the slice it is
// given, and should prefix its errors with the package that defines it. The
// built-in serdes are safe for concurrent use; all but the registry serdes hold no
// state (those cache what they learn from the registry).
package serde
