package bench

import (
	"fmt"
	"os"
	"syscall"
)

// tmpfsMagic is statfs's f_type of tmpfs (statfs(2)).
const tmpfsMagic = 0x01021994

// sharedMemory is where Linux systems mount a tmpfs for everyone.
var sharedMemory = "/dev/shm"

// inMemoryDir makes a directory on an in-memory filesystem (tmpfs), where fdatasync costs nothing.
func inMemoryDir() (string, error) {
	if err := isTmpfs(sharedMemory); err != nil {
		return "", err
	}
	return os.MkdirTemp(sharedMemory, "ctharness-bench-")
}

func isTmpfs(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if st.Type != tmpfsMagic {
		return fmt.Errorf("%s is not a tmpfs (filesystem type %#x)", dir, st.Type)
	}
	return nil
}
