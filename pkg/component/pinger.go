package component

import (
	"context"
	"sort"

	"github.com/osiris-go/osiris/workspace"
)

// Pinger checks that a resolved connection of one family is reachable
// (`osiris connections doctor`); files resolves workspace-relative paths.
// Families register one next to their drivers.
type Pinger func(ctx context.Context, conn *workspace.Connection, files *workspace.Files) error

var pingers = map[string]Pinger{}

// RegisterPinger registers the reachability check for a connection family.
func RegisterPinger(family string, p Pinger) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := pingers[family]; dup {
		panic("component: RegisterPinger called twice for " + family)
	}
	pingers[family] = p
}

// PingerFor returns the check for family, or nil.
func PingerFor(family string) Pinger {
	mu.RLock()
	defer mu.RUnlock()
	return pingers[family]
}

// PingerFamilies lists the families that have a check, sorted.
func PingerFamilies() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(pingers))
	for f := range pingers {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}
