// Package all links every built-in component into the binary.
package all

import (
	_ "github.com/osiris-go/osiris/pkg/component/duckdb"
	_ "github.com/osiris-go/osiris/pkg/component/file"
	_ "github.com/osiris-go/osiris/pkg/component/mysql"
	_ "github.com/osiris-go/osiris/pkg/component/postgres"
)
