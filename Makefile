# The two commands of the README, and the broker on its own.

.PHONY: test run kafka-start kafka-stop

# The whole suite, on a real Kafka broker that the script starts and stops
# (or the one in KAFKA_BOOTSTRAP).
test:
	scripts/test

# The main example, on the embedded in-process broker unless KAFKA_BOOTSTRAP is set.
run:
	scripts/kafka start

kafka-start:
	scripts/kafka start

kafka-stop:
	scripts/kafka stop
