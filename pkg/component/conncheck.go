package component

import (
	"sync"

	"github.com/osiris-go/osiris/workspace"
)

// ConnectionCheck checks a resolved connection's settings without
// connecting (a DSN that does not parse, a Supabase entry with only its
// REST url): the validator runs it, so run never fails on settings that
// could be read beforehand. Its error must not quote any value.
type ConnectionCheck func(conn *workspace.Connection) error

var (
	checksMu sync.RWMutex
	checks   = map[string]ConnectionCheck{}
)

// RegisterConnectionCheck sets the check of a connection family; drivers
// call it from init, next to Register.
func RegisterConnectionCheck(family string, check ConnectionCheck) {
	checksMu.Lock()
	defer checksMu.Unlock()
	checks[family] = check
}

// ConnectionCheckFor returns the family's check, or nil.
func ConnectionCheckFor(family string) ConnectionCheck {
	checksMu.RLock()
	defer checksMu.RUnlock()
	return checks[family]
}
