package eddy.avrogen;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Resolver;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.Decoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;

/**
 * Writes eddy's Avro golden files (see ../README.md).
 *
 * <p>golden/NAME.avsc + NAME.json (values in Avro JSON encoding) -> NAME.golden: [{"json", "hex"}].
 *
 * <p>resolve/NAME.writer.avsc + NAME.reader.avsc + NAME.json (values in the writer's JSON encoding)
 * -> NAME.golden: [{"writer_json", "writer_hex", "reader_json" | "error"[, "java_byte_array_error"]}],
 * or {"error"} alone when Java refuses the schema pair itself.
 */
public final class Gen {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** GenericDatumReader without the fast reader: the one whose maps we can keep in order. */
  private static final GenericData CLASSIC = new GenericData().setFastReaderEnabled(false);

  public static void main(String[] args) throws Exception {
    Path base = Path.of(args.length > 0 ? args[0] : "..");
    int n = 0;
    for (Path avsc : list(base.resolve("golden"), ".avsc")) {
      golden(avsc);
      n++;
    }
    for (Path avsc : list(base.resolve("resolve"), ".writer.avsc")) {
      resolve(avsc);
      n++;
    }
    System.out.println("wrote " + n + " .golden files with Avro " + Schema.class.getPackage().getImplementationVersion());
  }

  static void golden(Path avsc) throws IOException {
    String name = strip(avsc, ".avsc");
    Schema schema = parse(avsc);
    List<String> out = new ArrayList<>();
    for (JsonNode value : values(avsc.resolveSibling(name + ".json"))) {
      Object datum = fromJson(schema, value);
      byte[] bin = toBinary(schema, datum);
      Object back = datumReader(schema, schema, GenericData.get()).read(null, DecoderFactory.get().binaryDecoder(bin, null));
      if (!Objects.equals(datum, back)) {
        throw new IllegalStateException(name + ": binary round trip changed " + value);
      }
      out.add("{\"json\":" + JSON.writeValueAsString(value) + ",\"hex\":\"" + hex(bin) + "\"}");
    }
    write(avsc.resolveSibling(name + ".golden"), out);
  }

  static void resolve(Path writerAvsc) throws IOException {
    String name = strip(writerAvsc, ".writer.avsc");
    Schema writer = parse(writerAvsc);
    Schema reader = parse(writerAvsc.resolveSibling(name + ".reader.avsc"));
    // An error that every value would hit (not one behind a writer-union branch or an enum symbol)
    // means Java refuses the pair; GenericDatumReader only reports it when reading, so read anyway.
    String pairError = unconditionalError(Resolver.resolve(Schema.applyAliases(writer, reader), reader),
        Collections.newSetFromMap(new IdentityHashMap<>()));
    List<String> out = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    for (JsonNode value : values(writerAvsc.resolveSibling(name + ".json"))) {
      byte[] bin = toBinary(writer, fromJson(writer, value));
      String item = "{\"writer_json\":" + JSON.writeValueAsString(value) + ",\"writer_hex\":\"" + hex(bin) + "\",";
      // Read from a stream decoder: on a byte-array decoder, 1.12.2's collection-size guard sizes
      // elements by the READER's schema and rejects valid promotions. Values come from the classic
      // reader (its maps keep wire order), error messages from the default (fast) reader; the two
      // must agree on which values fail.
      String result = read(writer, reader, bin, true, GenericData.get());
      String classic = read(writer, reader, bin, true, CLASSIC);
      if (!sameResult(result, classic)) {
        throw new IllegalStateException(name + ": fast and classic readers disagree on " + value
            + "\nfast:    " + result + "\nclassic: " + classic);
      }
      result = result.startsWith("ok:") ? classic : result;
      if (result.startsWith("error:")) {
        errors.add(result.substring(6));
        item += "\"error\":" + JSON.writeValueAsString(result.substring(6));
      } else {
        item += "\"reader_json\":" + result.substring(3);
      }
      // What the default reader on a byte-array decoder (as Kafka deserializers use) says, if different.
      String fromArray = read(writer, reader, bin, false, GenericData.get());
      if (!sameResult(result, fromArray)) {
        if (!fromArray.startsWith("error:")) {
          throw new IllegalStateException(name + ": only the byte-array read succeeds on " + value);
        }
        item += ",\"java_byte_array_error\":" + JSON.writeValueAsString(fromArray.substring(6));
        System.err.println("note: " + name + ": byte-array decoder fails on " + value + ": " + fromArray);
      }
      out.add(item + "}");
    }
    if (pairError != null) {
      if (errors.size() != out.size() || errors.stream().distinct().count() != 1) {
        throw new IllegalStateException(name + ": pair error " + pairError + " but reads gave " + errors);
      }
      Files.writeString(writerAvsc.resolveSibling(name + ".golden"),
          ascii("{\"error\":" + JSON.writeValueAsString(errors.get(0)) + "}\n"));
    } else {
      write(writerAvsc.resolveSibling(name + ".golden"), out);
    }
  }

  static String unconditionalError(Resolver.Action a, Set<Resolver.Action> seen) {
    if (!seen.add(a)) {
      return null;
    }
    if (a instanceof Resolver.ErrorAction) {
      return a.toString();
    }
    if (a instanceof Resolver.Container c) {
      return unconditionalError(c.elementAction, seen);
    }
    if (a instanceof Resolver.ReaderUnion u) {
      return unconditionalError(u.actualAction, seen);
    }
    if (a instanceof Resolver.RecordAdjust r) {
      for (Resolver.Action f : r.fieldActions) {
        String e = unconditionalError(f, seen);
        if (e != null) {
          return e;
        }
      }
    }
    return null; // WriterUnion and EnumAdjust errors depend on the value
  }

  /** A GenericDatumReader whose maps keep their entries in input order, so the hex follows the JSON. */
  static GenericDatumReader<Object> datumReader(Schema writer, Schema reader, GenericData data) {
    return new GenericDatumReader<>(writer, reader, data) {
      @Override
      protected Object newMap(Object old, int size) {
        return new LinkedHashMap<>();
      }
    };
  }

  static Object fromJson(Schema s, JsonNode value) throws IOException {
    return datumReader(s, s, CLASSIC).read(null, DecoderFactory.get().jsonDecoder(s, JSON.writeValueAsString(value)));
  }

  static byte[] toBinary(Schema s, Object datum) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
    new GenericDatumWriter<>(s).write(datum, enc);
    enc.flush();
    return out.toByteArray();
  }

  /** "ok:" + the value in the reader schema's JSON encoding, or "error:" + Java's message. */
  static String read(Schema writer, Schema reader, byte[] bin, boolean stream, GenericData data) throws IOException {
    ByteArrayInputStream in = new ByteArrayInputStream(bin);
    Decoder dec = stream ? DecoderFactory.get().directBinaryDecoder(in, null) : DecoderFactory.get().binaryDecoder(bin, null);
    try {
      Object datum = datumReader(writer, reader, data).read(null, dec);
      if (stream ? in.available() != 0 : !((BinaryDecoder) dec).isEnd()) {
        throw new IllegalStateException("bytes left after reading " + hex(bin));
      }
      return "ok:" + toJson(reader, datum);
    } catch (AvroRuntimeException | EOFException e) {
      return "error:" + e.getMessage();
    }
  }

  /** Both errors, or equal values with JSON objects (maps) compared regardless of key order. */
  static boolean sameResult(String a, String b) throws IOException {
    if (a.startsWith("ok:") && b.startsWith("ok:")) {
      return JSON.readTree(a.substring(3)).equals(JSON.readTree(b.substring(3)));
    }
    return a.startsWith("error:") && b.startsWith("error:");
  }

  static String toJson(Schema s, Object datum) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    JsonEncoder enc = EncoderFactory.get().jsonEncoder(s, out);
    new GenericDatumWriter<>(s).write(datum, enc);
    enc.flush();
    return out.toString(StandardCharsets.UTF_8).trim();
  }

  static Schema parse(Path p) throws IOException {
    return new Schema.Parser().parse(p.toFile());
  }

  static List<JsonNode> values(Path p) throws IOException {
    JsonNode arr = JSON.readTree(p.toFile());
    if (!arr.isArray() || arr.isEmpty()) {
      throw new IllegalStateException(p + ": want a non-empty JSON array");
    }
    List<JsonNode> out = new ArrayList<>();
    arr.forEach(out::add);
    return out;
  }

  static void write(Path p, List<String> items) throws IOException {
    Files.writeString(p, ascii("[\n" + String.join(",\n", items) + "\n]\n"));
  }

  /** Escapes every non-ASCII char as \\uXXXX (they only occur inside JSON strings), so bytes read as \\u00XX. */
  static String ascii(String json) {
    StringBuilder b = new StringBuilder(json.length());
    for (char c : json.toCharArray()) {
      b.append(c < 0x7f ? String.valueOf(c) : String.format("\\u%04x", (int) c));
    }
    return b.toString();
  }

  static List<Path> list(Path dir, String suffix) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
    }
  }

  static String strip(Path p, String suffix) {
    String f = p.getFileName().toString();
    return f.substring(0, f.length() - suffix.length());
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }
}
