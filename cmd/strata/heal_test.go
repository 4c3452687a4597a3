package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPrintHeal(t *testing.T) {
	body := `{"type":"progress","buckets":1,"total":3,"objects":1,"healed":1,"shards":1}
{"type":"object","bucket":"b","key":"k","status":"unrecoverable","detail":"not enough intact shards"}
{"type":"summary","buckets":1,"total":3,"objects":3,"healed":1,"shards":2,"removed":0,"failed":1,"unrecoverable":1}
`
	var out bytes.Buffer
	err := printHeal(strings.NewReader(body), &out, &bytes.Buffer{}, "every bucket", false)
	var inc errHealIncomplete
	if !errors.As(err, &inc) || inc.failed != 1 || inc.unrecoverable != 1 {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"UNRECOVERABLE  b/k: not enough intact shards", "Objects checked   3", "Shards rewritten  2", "Failed            1"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	// A clean heal exits 0; a stream cut off or stopped is an error.
	if err := printHeal(strings.NewReader(`{"type":"summary","objects":2}`+"\n"), &out, &out, "b", false); err != nil {
		t.Fatal(err)
	}
	if err := printHeal(strings.NewReader(`{"type":"progress","objects":2}`+"\n"), &out, &out, "b", false); err == nil || !strings.Contains(err.Error(), "without a summary") {
		t.Fatalf("cut off: %v", err)
	}
	if err := printHeal(strings.NewReader(`{"type":"error","code":"InternalError","message":"x"}`+"\n"), &out, &out, "b", false); err == nil || !strings.Contains(err.Error(), "the heal stopped") {
		t.Fatalf("error line: %v", err)
	}
}
