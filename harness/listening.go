package harness

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// listensOn says whether process pid holds the listening TCP socket of addr's port, read from Linux /proc: a
// health check that answers 200 on a port the process never bound (it died, and another test's server took the
// port) must not pass for the process. Where /proc cannot tell, it says true.
func listensOn(pid int, addr string) bool {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return true
	}
	inodes, readable := map[string]bool{}, false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		readable = true
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)        // sl local_address rem_address st ... inode (10th)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && p == port {
				inodes[f[9]] = true
			}
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if !readable || err != nil {
		return true
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			return true
		}
	}
	return false
}
