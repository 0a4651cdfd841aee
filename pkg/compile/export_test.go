package compile

import "github.com/osiris-go/osiris/pkg/component"

// SetSpecLookup replaces how specs are found for the duration of a test.
func SetSpecLookup(f func(string) (component.Spec, bool)) (restore func()) {
	old := lookupSpec
	lookupSpec = f
	return func() { lookupSpec = old }
}
