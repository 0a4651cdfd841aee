package remote

import (
	"reflect"
	"testing"

	"github.com/osiris-go/osiris/pkg/exec"
)

// Every engine option must cross the wire: a field added to exec.Options
// and forgotten in RunOptions would make remote runs differ from local
// ones without a word (streaming did).
func TestRunOptionsCarryEveryEngineOption(t *testing.T) {
	var o exec.Options
	v := reflect.ValueOf(&o).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64, reflect.Int32:
			f.SetInt(int64(i + 7))
		case reflect.String:
			f.SetString("v" + v.Type().Field(i).Name)
		default:
			t.Fatalf("exec.Options.%s has kind %s: teach this test (and RunOptions) about it", v.Type().Field(i).Name, f.Kind())
		}
	}
	if got := wireOptions(o).engine(); !reflect.DeepEqual(got, o) {
		t.Errorf("exec.Options after the wire:\n got %+v\nwant %+v", got, o)
	}
}
