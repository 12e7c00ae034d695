// Package bench is eddy's load harness: it measures what eddy sustains against the ceiling
// (a raw franz-go consume→produce pipe) and the incumbent (Apache Kafka Streams), on one
// broker, one machine, the same preloaded input, in one run. Command eddy-bench drives it.
//
// The harness preloads an input topic, then runs each pipeline in its own child process
// (eddy-bench re-executed with its hidden "child" subcommand for the raw pipe and eddy,
// `java -jar` for Kafka Streams, whose project is bench/kstreams), from the start of the
// input until all of it is processed, and reports throughput, peak RSS and CPU time of
// that process alone. A second, short child per pipeline measures end-to-end latency on a
// rate-limited live input. Results are rendered as a markdown table.
//
// The join pipeline also reads a table topic with one value per key, stamped before the
// input; the windowed join reads two topics that hold records in pairs, so that its
// result count is known exactly (JoinPairs).
//
// What each number means is printed with the table (see Notes) and documented on Result.
package bench
