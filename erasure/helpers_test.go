package erasure

import (
	"os"
	"testing"
)

func mkdirs(t testing.TB, paths []string) {
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
