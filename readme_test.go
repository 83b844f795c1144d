// The README's commands, run as a user types them against a running stack, and the examples every --help shows:
// so the documentation and the behaviour cannot drift apart. Each sh block of the README (and each command's
// examples) becomes a testscript (github.com/rogpeppe/go-internal/testscript) run in a directory that sees the
// repository's files; a block preceded by <!-- README test: not run (why) --> is left out, with the reason.
package readme_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/pgtest"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// commandsDir holds the simulator and relay builtCommands builds once for this package's tests.
var commandsDir string

// builtCommands builds both commands once: the README's test runs them, and the release's test waits for them
// so that make release's build for this platform finds every package compiled (on a cold build cache that is a
// minute of CPU the two would otherwise spend at once).
var builtCommands = sync.OnceValues(func() (string, error) {
	for _, command := range []string{"simulator", "relay"} {
		if _, err := harness.Build(context.Background(), commandsDir, command); err != nil {
			return "", err
		}
	}
	return commandsDir, nil
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ctharness-readme-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	commandsDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// block is a run of commands from one place: a README code block or a command's examples.
type block struct {
	name  string
	lines []string
}

func TestTheREADMEAndEveryHelpRunAsPrinted(t *testing.T) {
	t.Parallel() // the README's scripts and the release's cross-builds wait on different things
	ctx := context.Background()
	bin, err := builtCommands()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "readback"), "./examples/readback")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/readback: %v\n%s", err, out)
	}
	simAddr, _ := harness.FreeAddr()
	relayAddr, _ := harness.FreeAddr()
	stack := &harness.Process{Name: "stack", Bin: filepath.Join(bin, "simulator"), Addr: simAddr,
		Health: "/_sim/health", Args: []string{"up", "--listen", simAddr, "--relay-listen", relayAddr,
			"--log-level", "error"}}
	if err := stack.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stack.Close() })
	// the lint proxy the docs show, in front of the stack's fake CleverTap
	proxyAddr, _ := harness.FreeAddr()
	lintProxy := &harness.Process{Name: "proxy", Bin: filepath.Join(bin, "simulator"), Addr: proxyAddr,
		Health: "/_sim/proxy/report", Args: []string{"proxy", "--listen", proxyAddr, "--upstream",
			"http://" + simAddr + "/{region}", "--quiet"}}
	if err := lintProxy.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lintProxy.Close() })

	// a PostgreSQL for the commands that name one (postgres://relay@127.0.0.1:5432/relay): a throwaway cluster
	pgAddr := ""
	if _, err := pgtest.Find(); err == nil {
		cluster, err := pgtest.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cluster.Stop)
		pgAddr = fmt.Sprintf("127.0.0.1:%d", cluster.Port)
	} else {
		t.Logf("commands naming postgres:// are left out: %v", err)
	}

	blocks := readmeBlocks(t)
	blocks = append(blocks, helpExamples(t, bin, "simulator"), helpExamples(t, bin, "relay"))
	// the blocks run in parallel against the one stack, except those that disturb it on purpose (simulator load
	// saturates the relay, a POST to /_sim/faults breaks the next uploads, one to /_sim/reset forgets what others
	// stored and the counts they poll): each of those runs after them, alone, and its faults are removed before
	// the next, so that no other command meets a full intake, a fault or an emptied fake
	together := t.TempDir()
	dirs := []string{together}
	for i, b := range blocks {
		script := []string{"# " + b.name}
		disturbs := false
		for _, line := range b.lines {
			if strings.Contains(line, "postgres://") && pgAddr == "" {
				continue
			}
			lines := toScript(t, line, simAddr, relayAddr, proxyAddr, pgAddr)
			for _, l := range lines {
				disturbs = disturbs || strings.HasPrefix(l, "exec 'simulator' 'load'") ||
					strings.HasPrefix(l, "exec 'curl'") && strings.Contains(l, "'POST'") &&
						(strings.Contains(l, "/_sim/faults") || strings.Contains(l, "/_sim/reset"))
			}
			script = append(script, lines...)
		}
		dir := together
		if disturbs {
			dir = t.TempDir()
			dirs = append(dirs, dir)
		}
		name := fmt.Sprintf("%02d-%s.txtar", i, regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(
			strings.ToLower(b.name), "-"))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(script, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo, _ := os.Getwd()
	goEnv := readGoEnv(t)
	params := testscript.Params{
		Setup: func(env *testscript.Env) error {
			// the repository's files, seen from the script's directory (what it writes stays there)
			entries, _ := os.ReadDir(repo)
			for _, e := range entries {
				if e.Name() == ".git" || e.Name() == "bin" {
					continue
				}
				if err := os.Symlink(filepath.Join(repo, e.Name()), filepath.Join(env.WorkDir, e.Name())); err != nil {
					return err
				}
			}
			// the stack the commands default to is the test's: flags' environment twins point them at it, and what
			// serves listens on free ports
			for k, v := range map[string]string{
				"PATH":                   bin + string(os.PathListSeparator) + os.Getenv("PATH"),
				"SIMULATOR_RELAY":        "http://" + relayAddr,
				"SIMULATOR_SIMULATOR":    "http://" + simAddr,
				"SIMULATOR_URL":          "http://" + simAddr,
				"SIMULATOR_PROXY":        "http://" + proxyAddr,
				"RELAY_URL":              "http://" + relayAddr,
				"SIMULATOR_LISTEN":       "127.0.0.1:0",
				"SIMULATOR_RELAY_LISTEN": "127.0.0.1:0",
				"RELAY_LISTEN":           "127.0.0.1:0",
				"SIMULATOR_QUIET":        "true",
				// `go install` as the README prints it: into the script's own directory, with this machine's
				// caches and toolchain
				"GOBIN":       filepath.Join(env.WorkDir, ".gobin"),
				"GOCACHE":     goEnv["GOCACHE"],
				"GOMODCACHE":  goEnv["GOMODCACHE"],
				"GOPATH":      goEnv["GOPATH"],
				"GOTOOLCHAIN": "local",
				"CGO_ENABLED": "0",
			} {
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"serves": serves},
	}
	for i, dir := range dirs {
		// t.Run returns when the group's parallel scripts have ended: the groups run one after the other
		t.Run(fmt.Sprintf("group-%d", i), func(t *testing.T) {
			p := params
			p.Dir = dir
			testscript.Run(t, p)
		})
		if err := clevertap.NewClient("http://" + simAddr).ClearFaults(ctx); err != nil {
			t.Fatalf("removing the faults a README block left: %v", err)
		}
	}
}

// readGoEnv reads go env's values for the scripts' go commands, once.
func readGoEnv(t *testing.T) map[string]string {
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	env := map[string]string{}
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatalf("go env -json: %v", err)
	}
	return env
}

// documentation is every page whose commands are run as printed: the README and docs/*.md.
func documentation(t *testing.T) []string {
	pages, err := filepath.Glob("docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in docs/ (%v)", err)
	}
	return append([]string{"README.md"}, pages...)
}

// readmeBlocks are the sh blocks of the README and of every page in docs/, each line a command (continuations
// joined).
func readmeBlocks(t *testing.T) []block {
	var out []block
	for _, page := range documentation(t) {
		out = append(out, pageBlocks(t, page)...)
	}
	return out
}

func pageBlocks(t *testing.T, page string) []block {
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		skip := ""
		for j := i - 1; j >= 0 && j >= i-2; j-- {
			if m := regexp.MustCompile(`<!-- README test: not run \((.+)\) -->`).FindStringSubmatch(lines[j]); m != nil {
				skip = m[1]
			}
		}
		b := block{name: fmt.Sprintf("%s line %d", page, i+1)}
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			line := lines[i]
			for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
				i++
				line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(lines[i])
			}
			b.lines = append(b.lines, line)
		}
		if skip != "" {
			t.Logf("%s: not run: %s", b.name, skip)
			continue
		}
		out = append(out, b)
	}
	return out
}

// helpExamples are the examples of every command's --help, parent commands first.
func helpExamples(t *testing.T, bin, binary string) block {
	b := block{name: binary + " --help examples"}
	var walk func(path []string)
	walk = func(path []string) {
		out, err := exec.Command(filepath.Join(bin, binary), append(path, "--help")...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s --help: %v\n%s", binary, strings.Join(path, " "), err, out)
		}
		section := ""
		var subs []string
		for _, line := range strings.Split(string(out), "\n") {
			switch {
			case strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " "):
				section = strings.TrimSuffix(line, ":")
			case section == "Examples" && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "":
				b.lines = append(b.lines, strings.TrimSpace(line))
			case section == "Available Commands" && strings.HasPrefix(line, "  "):
				if name := strings.Fields(line)[0]; name != "help" && name != "completion" {
					subs = append(subs, name)
				}
			}
		}
		for _, sub := range subs {
			walk(append(append([]string{}, path...), sub))
		}
	}
	walk(nil)
	if len(b.lines) == 0 {
		t.Fatalf("%s: no examples in any --help", binary)
	}
	return b
}

var (
	addr     = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	assignRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)
)

// toScript turns a command as printed into testscript lines: the programs as built, the stack's addresses for
// the documented ones (8081 the simulator, 8080 the relay, 8082 the lint proxy, 5432 a PostgreSQL; any other port
// a free one), environment assignments
// before it, "> file" as a copy of its output, and a trailing & (or a command that serves) run until it says it
// serves.
func toScript(t *testing.T, line, simAddr, relayAddr, proxyAddr, pgAddr string) []string {
	words := shellWords(t, line)
	if len(words) == 0 {
		return nil
	}
	for i, w := range words {
		words[i] = addr.ReplaceAllStringFunc(w, func(a string) string {
			switch a {
			case "127.0.0.1:8081":
				return simAddr
			case "127.0.0.1:8080":
				return relayAddr
			case "127.0.0.1:8082":
				return proxyAddr
			case "127.0.0.1:5432":
				return pgAddr
			}
			return "127.0.0.1:0"
		})
	}
	var out []string
	for len(words) > 0 && assignRE.MatchString(words[0]) {
		out = append(out, "env "+quote(words[0]))
		words = words[1:]
	}
	if len(words) == 0 || words[0] == "make" || words[0] == "docker" || words[0] == "docker-compose" {
		return nil // the Makefile's targets run in CI themselves; Docker has its own suite
	}
	background := false
	if words[len(words)-1] == "&" {
		background, words = true, words[:len(words)-1]
	}
	redirect := ""
	if n := len(words); n >= 2 && words[n-2] == ">" {
		redirect, words = words[n-1], words[:n-2]
	}
	switch {
	case len(words) >= 3 && words[0] == "go" && words[1] == "run":
		prog := map[string]string{"./cmd/simulator": "simulator", "./cmd/relay": "relay",
			"./examples/readback": "readback"}[words[2]]
		if prog == "" {
			t.Fatalf("README runs %s: add it to the README test's programs", words[2])
		}
		words = append([]string{prog}, words[3:]...)
	case strings.HasPrefix(words[0], "bin/"):
		words[0] = strings.TrimPrefix(words[0], "bin/")
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = quote(w)
	}
	cmd := "exec " + strings.Join(quoted, " ")
	if background || servesForever(words) {
		cmd = "serves " + strings.Join(quoted, " ")
	}
	out = append(out, cmd)
	if redirect != "" {
		out = append(out, "cp stdout "+quote(redirect))
	}
	return out
}

// servesForever says whether a command serves until interrupted.
func servesForever(words []string) bool {
	has := func(flag string) bool {
		for _, w := range words {
			if w == flag || strings.HasPrefix(w, flag+"=") {
				return true
			}
		}
		return false
	}
	switch {
	case words[0] == "simulator" && len(words) > 1:
		return words[1] == "serve" || words[1] == "up" && !has("--once") || words[1] == "tail" && !has("--count") ||
			words[1] == "proxy" && (len(words) == 2 || strings.HasPrefix(words[2], "-"))
	case words[0] == "relay":
		return len(words) == 1 || strings.HasPrefix(words[1], "-") && !has("--print-config") && !has("--help") &&
			!has("--version")
	}
	return false
}

func quote(w string) string { return "'" + strings.ReplaceAll(w, "'", "''") + "'" }

// serves runs a command that serves until interrupted: it must say it serves (a "listening on" or "Still
// serving" line, or "following" for simulator tail) within 60 s, then stop cleanly on SIGINT.
func serves(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: serves program args...")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		// LookPath reads the process's PATH; the script's is the one that matters
		for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
			if p := filepath.Join(dir, args[0]); fileExists(p) {
				path, err = p, nil
				break
			}
		}
		ts.Check(err)
	}
	cmd := exec.Command(path, args[1:]...)
	cmd.Dir = ts.MkAbs(".")
	for _, k := range []string{"PATH", "HOME", "SIMULATOR_RELAY", "SIMULATOR_SIMULATOR", "SIMULATOR_URL",
		"RELAY_URL", "SIMULATOR_LISTEN", "SIMULATOR_RELAY_LISTEN", "RELAY_LISTEN", "SIMULATOR_QUIET",
		"SIMULATOR_PROXY"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	stdout, err := cmd.StdoutPipe()
	ts.Check(err)
	cmd.Stderr = cmd.Stdout
	ts.Check(cmd.Start())
	said := make(chan bool, 1)
	var seen []string
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if strings.Contains(sc.Text(), "listening on") || strings.Contains(sc.Text(), "Still serving") ||
				strings.HasPrefix(sc.Text(), "following ") {
				said <- true
				for sc.Scan() {
				}
				return
			}
		}
		said <- false
	}()
	select {
	case ok := <-said:
		if !ok {
			_ = cmd.Wait()
			ts.Fatalf("%s ended without serving:\n%s", strings.Join(args, " "), strings.Join(seen, "\n"))
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		ts.Fatalf("%s did not say it serves within 60 s:\n%s", strings.Join(args, " "), strings.Join(seen, "\n"))
	}
	ts.Check(cmd.Process.Signal(syscall.SIGINT))
	if err := cmd.Wait(); err != nil {
		ts.Fatalf("%s did not stop cleanly on SIGINT: %v", strings.Join(args, " "), err)
	}
	ts.Logf("%s served, then stopped", strings.Join(args, " "))
}

func fileExists(p string) bool {
	info, err := os.Stat(p)
	return err == nil && !info.IsDir()
}

// shellWords splits a command line as sh would for the quoting the README uses: '...', "...", # comments.
func shellWords(t *testing.T, line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == '\'' || ch == '"':
			end := strings.IndexByte(line[i+1:], ch)
			if end < 0 {
				t.Fatalf("unbalanced quote in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '#' && !inWord:
			i = len(line)
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
