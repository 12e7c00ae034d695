# The README's two commands, and the test broker on its own.

.PHONY: test run kafka-start kafka-stop

# The whole suite, on a real Kafka broker that the script starts and stops
# (or the one in KAFKA_BOOTSTRAP).
test:
	scripts/test

# The main example, on the in-process broker unless KAFKA_BOOTSTRAP is set.
run:
	go run ./examples/wordcount

kafka-start:
	scripts/kafka start

kafka-stop:
	scripts/kafka stop
