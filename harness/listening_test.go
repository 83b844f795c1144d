package harness

import (
	"net"
	"os"
	"runtime"
	"testing"
)

func TestListensOnTellsWhoseListenerAPortIs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads Linux /proc")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if !listensOn(os.Getpid(), addr) {
		t.Fatalf("this process listens on %s, listensOn says no", addr)
	}
	ln.Close()
	if listensOn(os.Getpid(), addr) {
		t.Fatalf("the listener on %s is closed, listensOn says yes", addr)
	}
	if listensOn(os.Getppid(), mustListen(t)) {
		t.Fatal("the parent process does not hold this process's listener, listensOn says it does")
	}
}

func mustListen(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}
