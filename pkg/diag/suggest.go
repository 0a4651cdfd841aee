package diag

import (
	"sort"
	"strings"
)

// Suggest returns the candidate closest to word when it is close enough to
// be a likely typo, else "". Distance is optimal string alignment (a
// transposition such as "qurey" → "query" costs 1), compared
// case-insensitively; the allowed distance grows with the word's length
// (a third of it, between 1 and 3). Ties go to the alphabetically first.
func Suggest(word string, candidates []string) string {
	if word == "" {
		return ""
	}
	limit := len([]rune(word)) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	best, bestDist := "", limit+1
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	lw := strings.ToLower(word)
	for _, c := range sorted {
		if c == word {
			continue
		}
		d := osaDistance(lw, strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func osaDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rolling rows are enough for the transposition look-back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
