package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of ds by the nearest-rank method:
// the smallest value with at least p% of the values at or below it. ds is sorted in place.
// It returns false when ds is empty.
func Percentile(ds []time.Duration, p float64) (time.Duration, bool) {
	if len(ds) == 0 || p <= 0 || p > 100 {
		return 0, false
	}
	slices.Sort(ds)
	// The epsilon keeps float noise from pushing an exact rank (50% of 10) one up.
	rank := int(math.Ceil(p/100*float64(len(ds)) - 1e-9))
	rank = max(1, min(rank, len(ds)))
	return ds[rank-1], true
}
