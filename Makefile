# The README's two commands, and the test broker on its own.

.PHONY: test run bench kafka-start kafka-stop

# The whole suite, on a real Kafka broker that the script starts and stops
# (or the one in KAFKA_BOOTSTRAP).
test:
	scripts/test

# The main example, on the in-process broker unless KAFKA_BOOTSTRAP is set.
run:
	go run ./examples/wordcount

# The load comparison: raw franz-go pipe, eddy and Kafka Streams on one broker (started and
# stopped here unless KAFKA_BOOTSTRAP is set); prints the table and writes bench/results.md.
# BENCH_ARGS replaces the default arguments (see go run ./cmd/eddy-bench -h).
bench:
	bench/run $(BENCH_ARGS)

kafka-start:
	scripts/kafka start

kafka-stop:
	scripts/kafka stop
