package component

import (
	"strings"
	"testing"
)

func TestCheckColumnNames(t *testing.T) {
	tests := []struct {
		names []string
		want  string // "" = accepted
	}{
		{[]string{"a", "b", "c"}, ""},
		{[]string{"id", "Name", "name_1"}, ""},
		{[]string{"x", "x"}, `two columns named "x" (columns 1 and 2)`},
		{[]string{"a", "x", "X"}, `columns "x" and "X" (columns 2 and 3) differ only in case`},
		{[]string{"Straße", "STRASSE"}, ""}, // not equal under simple case folding
		{[]string{"Ä", "ä"}, `columns "Ä" and "ä"`},
		{[]string{"a", ""}, "column 2 has no name"},
	}
	for _, tt := range tests {
		err := CheckColumnNames(tt.names)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.names, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.names, err, tt.want)
		}
	}
}
