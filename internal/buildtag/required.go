//go:build !duckdb_arrow

package buildtag

// A build without the tag stops on this line; its message is the fix.
var _ = build_osiris_with__go_install_tags_duckdb_arrow
