//go:build !unix && !windows

package erasure

import "os"

// lockFile does nothing where there is no file locking.
func lockFile(*os.File) error { return nil }
