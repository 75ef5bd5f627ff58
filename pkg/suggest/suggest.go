// Package suggest offers the closest known name for a misspelt one, for
// the "did you mean" of strict decoders (plans, firedrill.yaml).
package suggest

import (
	"fmt"
	"iter"
	"strings"
)

// maxDistance is the largest edit distance a suggestion may have.
const maxDistance = 2

// DidYouMean returns ` (did you mean "x"?)` for the known name closest to
// name (case-insensitive, at most two edits away; the alphabetically first
// on a tie), or "" when none is close.
func DidYouMean(name string, known iter.Seq[string]) string {
	best, bestDist := "", maxDistance+1
	for k := range known {
		if d := distance(strings.ToLower(name), strings.ToLower(k)); d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
