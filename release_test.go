package readme_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"debug/macho"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeReleaseBuildsArchivesChecksumsAndTheImage runs `make release` for two of its four platforms (the loop is
// the same for all): each archive holds both binaries for its platform and the README, checksums.txt matches the
// archives, the binaries report the version, and the image carries the version tag and OCI labels.
func TestMakeReleaseBuildsArchivesChecksumsAndTheImage(t *testing.T) {
	t.Parallel() // once the commands are built, the README's scripts and the cross-builds wait on different things
	// the same packages as the README's test, compiled once (builtCommands says why)
	if _, err := builtCommands(); err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	const version, image = "v0.0.0-releasetest", "ctharness-releasetest"
	cmd := exec.Command("make", "release", "VERSION="+version, "PLATFORMS=linux/amd64 darwin/arm64", "DIST="+dist,
		"IMAGE="+image)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	sums, err := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, platform := range []string{"linux_amd64", "darwin_arm64"} {
		name := "ctharness_" + version + "_" + platform
		archive := filepath.Join(dist, name+".tar.gz")
		data, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if !strings.Contains(string(sums), hex.EncodeToString(sum[:])+"  "+name+".tar.gz\n") {
			t.Errorf("checksums.txt has no right line for %s:\n%s", name, sums)
		}
		files := untar(t, archive, t.TempDir())
		for _, want := range []string{"simulator", "relay", "README.md"} {
			if files[name+"/"+want] == "" {
				t.Errorf("%s lacks %s (holds %v)", name, want, files)
			}
		}
		bin := files[name+"/simulator"]
		if platform == "darwin_arm64" {
			f, err := macho.Open(bin)
			if err != nil || f.Cpu != macho.CpuArm64 {
				t.Errorf("%s/simulator is not a darwin arm64 binary (%v)", name, err)
			} else {
				_ = f.Close()
			}
			continue
		}
		v, err := exec.Command(bin, "--version").Output()
		if err != nil || strings.TrimSpace(string(v)) != "simulator "+version {
			t.Errorf("%s/simulator --version: %q (%v), want simulator %s", name, v, err, version)
		}
	}
	if !strings.Contains(string(out), "image "+image+":"+version) {
		t.Logf("the image was not built: %s", lastLine(string(out)))
		return
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image+":"+version).Run() })
	format := `{{index .Config.Labels "org.opencontainers.image.version"}} ` +
		`{{index .Config.Labels "org.opencontainers.image.source"}}`
	labels, err := exec.Command("docker", "inspect", "-f", format, image+":"+version).Output()
	if err != nil || strings.TrimSpace(string(labels)) != version+" https://github.com/ctharness/ctharness" {
		t.Errorf("the image's labels read %q (%v), want the version and the source", labels, err)
	}
}

// untar extracts a .tar.gz into dir and returns its regular files by name.
func untar(t *testing.T, archive, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || strings.Contains(h.Name, "..") {
			continue
		}
		path := filepath.Join(dir, h.Name)
		_ = os.MkdirAll(filepath.Dir(path), 0o755)
		out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		_ = out.Close()
		files[h.Name] = path
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
