//go:build !unix

package dir

import "os"

const openFlags = os.O_RDONLY
