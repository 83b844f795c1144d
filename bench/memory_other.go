//go:build !linux

package bench

import "errors"

func inMemoryDir() (string, error) {
	return "", errors.New("an in-memory filesystem is looked for on Linux only (/dev/shm)")
}
