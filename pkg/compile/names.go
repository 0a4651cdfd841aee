package compile

// InputNames are the names under which a step sees the output of need: a
// transform's SQL uses them as table names. df_<id> (every character
// outside [A-Za-z0-9_] becomes _), each `inputs:` name given to need, and
// input_df when need is the step's only input. The engine names inputs
// with this function and the validator checks with it that no two inputs
// of a step share a name.
func InputNames(s *Step, need string) []string {
	names := []string{"df_" + SanitizeIdent(need)}
	for _, in := range s.Inputs {
		if in.Step == need {
			names = append(names, in.Name)
		}
	}
	if len(s.Needs) == 1 {
		names = append(names, "input_df")
	}
	return names
}

// SanitizeIdent replaces every character outside [A-Za-z0-9_] with _.
func SanitizeIdent(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
