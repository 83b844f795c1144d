package bench

import (
	"os"
	"strings"
	"testing"
)

func TestTheInMemoryOutboxGoesOnATmpfsOnly(t *testing.T) {
	if err := isTmpfs(t.TempDir()); err == nil {
		t.Skip("the test's temporary directory is itself on a tmpfs: nothing to tell apart")
	} else if !strings.Contains(err.Error(), "is not a tmpfs (filesystem type 0x") {
		t.Fatalf("a directory on disk: expected it named as not a tmpfs, got %v", err)
	}
	if err := isTmpfs(sharedMemory); err != nil {
		t.Skipf("no tmpfs here to compare with: %v", err)
	}
	dir, err := inMemoryDir()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if !strings.HasPrefix(dir, "/dev/shm/ctharness-bench-") {
		t.Fatalf("expected a directory under /dev/shm, got %s", dir)
	}
	if err := isTmpfs(dir); err != nil {
		t.Fatal(err)
	}
}
