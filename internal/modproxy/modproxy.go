// Package modproxy lays out a Go module proxy in a directory (GOPROXY=file://DIR) holding this repository's
// committed tree as one version: what `go install github.com/ctharness/ctharness/cmd/simulator@latest` would
// fetch once the module is published, so tests can run that command from outside the repository on a machine that
// cannot publish.
package modproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// Write puts the module at path, as committed at revision in the git repository root, into a proxy at dir as
// version (e.g. v0.0.1); nested modules (their own go.mod) stay out, as the go command leaves them out.
func Write(dir, path, version, root, revision string) error {
	escaped, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	at := filepath.Join(dir, escaped, "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	// the committed tree, exported (git archive works in a worktree too, where .git is a file)
	tree, err := os.MkdirTemp("", "modproxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	export := exec.Command("bash", "-c", `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`, "export", root,
		revision, tree)
	if out, err := export.CombinedOutput(); err != nil {
		return fmt.Errorf("git archive %s: %v\n%s", revision, err, out)
	}
	m := module.Version{Path: path, Version: version}
	var z bytes.Buffer
	if err := zip.CreateFromDir(&z, m, tree); err != nil {
		return fmt.Errorf("zipping %s at %s: %w", path, revision, err)
	}
	mod, err := os.ReadFile(filepath.Join(tree, "go.mod"))
	if err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]any{"Version": version, "Time": time.Now().UTC().Format(time.RFC3339)})
	for name, data := range map[string][]byte{version + ".zip": z.Bytes(), version + ".mod": mod,
		version + ".info": info, "list": []byte(version + "\n")} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
