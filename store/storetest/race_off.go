//go:build !race

package storetest

// largeBatchSize: see large.go and race_on.go.
const largeBatchSize = 200_000
