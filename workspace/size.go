package workspace

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits: KB/MB/GB are powers of 1000, KiB/MiB/GiB powers of 1024, as
// on disk labels and in `ls -h --si`; matched case-insensitively.
var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000}, {"tb", 1000 * 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, // 512M as Java and Docker mean it
	{"b", 1},
}

// ParseSize parses a byte size: a plain integer (bytes), or a number with
// B, KB/KiB, MB/MiB, GB/GiB, TB/TiB (KB = 1000, KiB = 1024). "1.5GiB" is
// allowed; the result is rounded down to whole bytes. Negative sizes are
// an error.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	lower := strings.ToLower(t)
	factor := int64(1)
	num := lower
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			factor = u.factor
			num = strings.TrimSpace(strings.TrimSuffix(lower, u.suffix))
			break
		}
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("size %q is negative", s)
		}
		if n > math.MaxInt64/factor {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return n * factor, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || strings.ContainsAny(num, "eEnN") { // no 1e3, NaN, Inf
		return 0, fmt.Errorf("size %q is not a number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB)", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("size %q is negative", s)
	}
	bytes := f * float64(factor)
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(bytes), nil
}

// MemoryBudgetBytes returns the run memory budget in bytes: 0 keeps nothing
// in memory (every output goes through parquet), -1 means no limit, which
// is written "unlimited" — "-1" is refused like any negative size, so that
// a sign typo never means "no limit". An empty budget is the default,
// 512MiB.
func (r RunConfig) MemoryBudgetBytes() (int64, error) {
	s := strings.TrimSpace(r.MemoryBudget)
	switch strings.ToLower(s) {
	case "":
		return ParseSize(DefaultMemoryBudget)
	case "unlimited":
		return -1, nil
	}
	return ParseSize(s)
}
