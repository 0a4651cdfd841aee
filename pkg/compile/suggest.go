package compile

import "github.com/osiris-go/osiris/pkg/diag"

// suggest returns the candidate closest to word when it is close enough to
// be a likely typo, else "" (diag.Suggest).
func suggest(word string, candidates []string) string { return diag.Suggest(word, candidates) }

// didYouMean formats a suggestion for a message: ` (did you mean "x"?)`.
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return `did you mean "` + s + `"?`
	}
	return ""
}
