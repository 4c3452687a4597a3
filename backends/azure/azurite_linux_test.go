package azure

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill Azurite when the test process dies,
// even of a panic or a timeout, which skip TestMain's cleanup.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
