//go:build race

package storetest

// largeBatchSize is smaller under the race detector, which slows Badger's
// write path about twelvefold (200k entries would take some 10 s there);
// 50k entries still span several Badger transactions.
const largeBatchSize = 50_000
