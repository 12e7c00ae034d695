package io.github.eddystreams.bench;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Kafka Streams side of eddy's load harness: one pipeline, run until the harness stops
 * the process. The pipelines match eddy's in cmd/eddy-bench record for record: the same
 * filter predicate and value map, a count by key in a changelogged store, a 1 s
 * tumbling windowed count (grace 0) emitting final results only, a stream-table left join
 * (the input enriched from a table topic) and a windowed stream-stream inner join of two
 * topics (grace 0), with the same value joiners.
 *
 * <p>Arguments are {@code --name=value}: brokers, app-id, input, output, pipeline
 * (stateless, count, windowed, join, windowed-join), guarantee (alos, eos), threads,
 * commit-ms, cache-bytes, state-dir, compression, side (the joins' second topic: the
 * table, the right stream), join-window-ms. On the first record it processes from a
 * stream it prints {@code started <unix nanos>} to standard output, which the harness
 * takes as the start of processing.
 */
public final class KStreamsBench {
    private static final AtomicBoolean STARTED = new AtomicBoolean();

    private KStreamsBench() {}

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> a = parse(args);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(a, "app-id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(a, "brokers"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(need(a, "threads")));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(need(a, "commit-ms")));
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, Long.parseLong(need(a, "cache-bytes")));
        p.put(StreamsConfig.STATE_DIR_CONFIG, need(a, "state-dir"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
                "eos".equals(need(a, "guarantee")) ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), a.getOrDefault("compression", "none"));

        StreamsBuilder b = new StreamsBuilder();
        String output = need(a, "output");
        KStream<String, byte[]> in = b.stream(need(a, "input"), Consumed.with(Serdes.String(), Serdes.ByteArray()))
                .peek((k, v) -> markStarted());
        switch (need(a, "pipeline")) {
            case "stateless" -> in.filter((k, v) -> keep(v)).mapValues(KStreamsBench::upper)
                    .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
            case "count" -> in.groupByKey(Grouped.with(Serdes.String(), Serdes.ByteArray()))
                    .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("counts")
                            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                    .toStream().to(output, Produced.with(Serdes.String(), Serdes.Long()));
            case "windowed" -> in.groupByKey(Grouped.with(Serdes.String(), Serdes.ByteArray()))
                    .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(1)))
                    .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("wcounts")
                            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                    .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream()
                    .to(output, Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 1000L), Serdes.Long()));
            case "join" -> {
                KTable<String, byte[]> table = b.table(need(a, "side"), Consumed.with(Serdes.String(), Serdes.ByteArray()),
                        Materialized.<String, byte[], KeyValueStore<Bytes, byte[]>>as("profiles")
                                .withKeySerde(Serdes.String()).withValueSerde(Serdes.ByteArray()));
                in.leftJoin(table, KStreamsBench::enrich, Joined.with(Serdes.String(), Serdes.ByteArray(), Serdes.ByteArray()))
                        .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
            }
            case "windowed-join" -> {
                KStream<String, byte[]> right = b.stream(need(a, "side"), Consumed.with(Serdes.String(), Serdes.ByteArray()))
                        .peek((k, v) -> markStarted());
                JoinWindows w = JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofMillis(Long.parseLong(need(a, "join-window-ms"))));
                in.join(right, KStreamsBench::pair, w, StreamJoined.with(Serdes.String(), Serdes.ByteArray(), Serdes.ByteArray()))
                        .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
            }
            default -> throw new IllegalArgumentException("unknown pipeline " + a.get("pipeline"));
        }

        KafkaStreams streams = new KafkaStreams(b.build(), p);
        CountDownLatch done = new CountDownLatch(1);
        int[] exit = {0};
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("kstreams-bench: stream thread failed: " + e);
            e.printStackTrace();
            exit[0] = 1;
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                done.countDown();
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close(Duration.ofSeconds(5));
            done.countDown();
        }));
        streams.start();
        done.await();
        System.out.flush();
        Runtime.getRuntime().halt(exit[0]);
    }

    /** The filter: keep a record unless the 10th byte of its value is '0' (drops i % 10 == 0). */
    static boolean keep(byte[] v) {
        return v.length > 9 && v[9] != '0';
    }

    /** The map: ASCII lower case to upper case, into a new array. */
    static byte[] upper(byte[] v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            byte c = v[i];
            out[i] = (c >= 'a' && c <= 'z') ? (byte) (c - 32) : c;
        }
        return out;
    }

    /** The join's value: the input value, '|' and the table value (nothing when there is none). */
    static byte[] enrich(byte[] v, byte[] tableValue) {
        return tableValue == null ? concat(v, new byte[0]) : concat(v, tableValue);
    }

    /** The windowed join's value: the left value, '|' and the right value. */
    static byte[] pair(byte[] left, byte[] right) {
        return concat(left, right);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + 1 + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        out[a.length] = '|';
        System.arraycopy(b, 0, out, a.length + 1, b.length);
        return out;
    }

    private static void markStarted() {
        if (!STARTED.get() && STARTED.compareAndSet(false, true)) {
            Instant now = Instant.now();
            System.out.println("started " + (now.getEpochSecond() * 1_000_000_000L + now.getNano()));
            System.out.flush();
        }
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (String s : args) {
            if (!s.startsWith("--") || !s.contains("=")) {
                throw new IllegalArgumentException("argument " + s + ": want --name=value");
            }
            int eq = s.indexOf('=');
            m.put(s.substring(2, eq), s.substring(eq + 1));
        }
        return m;
    }

    private static String need(Map<String, String> a, String name) {
        String v = a.get(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("missing --" + name + "=");
        }
        return v;
    }
}
