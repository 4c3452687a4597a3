//go:build unix

package dir

import (
	"os"
	"syscall"
)

// openFlags opens without blocking on a FIFO placed in the tree; Open then
// refuses it as not a regular file.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
