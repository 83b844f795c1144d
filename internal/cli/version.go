package cli

import "runtime/debug"

// Version is the version a binary reports: the one stamped at build time (-ldflags "-X main.version=..."), else
// the module version the go command recorded (`go install github.com/ctharness/ctharness/cmd/simulator@v1.2.3`
// stamps nothing but records v1.2.3), else "dev".
func Version(stamped string) string {
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
