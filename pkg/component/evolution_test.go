package component

import "testing"

func TestCompareTypes(t *testing.T) {
	i := func(w int) ColType { return ColType{Kind: KindInt, Width: w} }
	d := func(p, s int) ColType { return ColType{Kind: KindDecimal, Width: p, Scale: s} }
	str := ColType{Kind: KindString}
	for _, tc := range []struct {
		name       string
		target, in ColType
		want       Verdict
		p, s       int
	}{
		{"int into bigint", i(8), i(4), TypeFits, 0, 0},
		{"bigint into int widens", i(4), i(8), TypeWiden, 0, 0},
		{"equal decimals", d(10, 2), d(10, 2), TypeFits, 0, 0},
		{"more integer digits", d(6, 2), d(12, 2), TypeWiden, 12, 2},
		{"larger scale keeps the integer digits", d(6, 2), d(6, 4), TypeWiden, 8, 4},
		{"both grow", d(6, 2), d(12, 4), TypeWiden, 12, 4},
		{"narrower decimal fits", d(12, 4), d(6, 2), TypeFits, 0, 0},
		{"unbounded numeric fits all", ColType{Kind: KindDecimal}, d(38, 10), TypeFits, 0, 0},
		{"text into int conflicts", i(4), str, TypeConflict, 0, 0},
		{"text into decimal conflicts", d(6, 2), str, TypeConflict, 0, 0},
		{"int into text stays a cast", str, i(4), TypeFits, 0, 0},
		{"other kinds are left to the database", ColType{}, str, TypeFits, 0, 0},
	} {
		v, p, s := CompareTypes(tc.target, tc.in)
		if v != tc.want || p != tc.p || s != tc.s {
			t.Errorf("%s: got %v (%d,%d), want %v (%d,%d)", tc.name, v, p, s, tc.want, tc.p, tc.s)
		}
	}
}

func TestCheckWriteKeys(t *testing.T) {
	if k, err := CheckWriteKeys(map[string]any{"write_mode": "delete+insert"}); k != "write_mode" || err == nil {
		t.Errorf("delete+insert without delete_key: %q %v", k, err)
	}
	for _, cfg := range []map[string]any{
		{"write_mode": "delete+insert", "delete_key": []any{"day"}},
		{"write_mode": "delete+insert", "delete_key": "day"},
		{"write_mode": "append"},
	} {
		if _, err := CheckWriteKeys(cfg); err != nil {
			t.Errorf("%v: %v", cfg, err)
		}
	}
}
