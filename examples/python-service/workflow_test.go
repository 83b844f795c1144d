package pythonservice_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/modproxy"
)

// workflow is the part of a GitHub Actions workflow the local run reads.
type workflow struct {
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// TestTheWorkflowsStepsPassWhenRunHere runs .github/workflows/harness.yml's run steps in order, as the runner
// would (bash -eo pipefail, background processes kept between steps), in a copy of the files a user copies (outside
// this repository). Its `go install github.com/ctharness/ctharness/cmd/simulator@latest` is served by a module
// proxy in a directory holding this repository's committed tree as v0.0.1, since nothing can be published from
// here; the other modules come from the usual proxy. The workflow's fixed ports become free ones.
// The `uses:` steps are the runner's (checkout: the copy; setup-go: the Go running this test).
func TestTheWorkflowsStepsPassWhenRunHere(t *testing.T) {
	for _, tool := range []string{"python3", "git", "curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: the workflow needs %s on PATH (%v)", tool, err)
		}
	}
	raw, err := os.ReadFile(".github/workflows/harness.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	job, ok := wf.Jobs["scenarios"]
	if !ok || len(job.Steps) == 0 {
		t.Fatalf("the workflow has no scenarios job with steps")
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--", ".").Output(); err == nil &&
		len(out) > 0 {
		t.Logf("the working tree has changes: the workflow installs the committed tree (HEAD)")
	}
	proxy := t.TempDir()
	if err := modproxy.Write(proxy, "github.com/ctharness/ctharness", "v0.0.1", root, "HEAD"); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir() // the user's repository: the files the README says to copy
	for _, f := range []string{"service.py", "scenarios/trial-converts.yaml", "scenarios/cancel-expire.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_ = os.MkdirAll(filepath.Join(repo, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(repo, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gobin := t.TempDir()
	upstream, _ := exec.Command("go", "env", "GOPROXY").Output()
	simAddr, _ := harness.FreeAddr()
	svcAddr, _ := harness.FreeAddr()
	_, svcPort, _ := net.SplitHostPort(svcAddr)
	ports := strings.NewReplacer("127.0.0.1:8081", simAddr, "127.0.0.1:3000", svcAddr)
	env := append(os.Environ(), "GOPROXY=file://"+proxy+","+strings.TrimSpace(string(upstream)),
		"GONOSUMDB=github.com/ctharness/ctharness", "GOFLAGS=", "GOWORK=off", "GOBIN="+gobin,
		"PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for k, v := range job.Env {
		env = append(env, k+"="+v)
	}
	var groups []int
	t.Cleanup(func() {
		for _, g := range groups {
			_ = syscall.Kill(-g, syscall.SIGTERM)
		}
	})
	for i, step := range job.Steps {
		if step.Uses != "" {
			t.Logf("step %d %s: the runner's (here: a copy of the files, the Go running this test, the report "+
				"checked below)", i+1, step.Uses)
			continue
		}
		stepEnv := append([]string(nil), env...)
		for k, v := range step.Env {
			if k == "PORT" {
				v = svcPort
			}
			stepEnv = append(stepEnv, k+"="+ports.Replace(v))
		}
		logPath := filepath.Join(t.TempDir(), fmt.Sprintf("step-%d.log", i+1))
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
			ports.Replace(step.Run))
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = repo, stepEnv, logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its background processes stay in its group
		err = cmd.Start()
		if err == nil {
			groups = append(groups, cmd.Process.Pid)
			err = cmd.Wait()
		}
		cancel()
		_ = logFile.Close()
		out, _ := os.ReadFile(logPath)
		if err != nil {
			t.Fatalf("step %d %q failed: %v\n%s", i+1, step.Name, err, out)
		}
		t.Logf("step %d %q passed", i+1, step.Name)
	}
	version, err := exec.Command(filepath.Join(gobin, "simulator"), "--version").Output()
	if err != nil || strings.TrimSpace(string(version)) != "simulator v0.0.1" {
		t.Errorf("the installed simulator says %q (%v), want simulator v0.0.1 (the version go install fetched)",
			version, err)
	}
	report, err := os.ReadFile(filepath.Join(repo, "report.xml"))
	if err != nil {
		t.Fatalf("the workflow left no report.xml for its upload-artifact step: %v", err)
	}
	var junit struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(report, &junit); err != nil || len(junit.Suites) != 1 || junit.Suites[0].Tests != 2 ||
		junit.Suites[0].Failures != 0 {
		t.Errorf("report.xml: %+v (%v), want 2 tests and no failure", junit, err)
	}
}
