package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// The README's worked example, run as printed: its curl upload and its readback command against a simulator on a
// free port (standing in for the README's 127.0.0.1:8081), and its output compared with what the README shows.
func TestTheREADMEsWorkedExample(t *testing.T) {
	commands, output := readmeExample(t)
	sim, err := clevertap.New(clevertap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	var stdout bytes.Buffer
	ran := 0
	for _, words := range commands {
		for i, w := range words {
			words[i] = strings.ReplaceAll(w, "http://127.0.0.1:8081", srv.URL)
		}
		switch {
		case words[0] == "curl":
			curl(t, words[1:])
			ran++
		case len(words) > 2 && words[0] == "go" && words[1] == "run" && words[2] == "./examples/readback":
			if err := run(context.Background(), words[3:], func(string) string { return "" }, &stdout); err != nil {
				t.Fatalf("%s: %v", strings.Join(words, " "), err)
			}
			ran++
		}
	}
	if ran != 2 {
		t.Fatalf("expected the example's curl and readback commands, ran %d", ran)
	}
	if stdout.String() != output {
		t.Fatalf("the README says it prints\n%s\nit printed\n%s", output, stdout.String())
	}
	// and the same verification fails when what was uploaded is not what is expected
	err = run(context.Background(), append(commands[len(commands)-1][3:len(commands[len(commands)-1])-1], "2"),
		func(string) string { return "" }, &stdout)
	if err == nil || !strings.Contains(err.Error(), "expected 2 event(s), found 1") {
		t.Fatalf("--expect 2: expected the verification to fail, got %v", err)
	}
}

// readmeExample reads the shell block after the README's worked-example marker (commands, \-continued lines
// joined) and the output block after it.
func readmeExample(t *testing.T) ([][]string, string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- worked example: readback -->")
	if !ok {
		t.Fatal("the README has no worked-example marker")
	}
	blocks := strings.Split(rest, "```")
	script, output := strings.TrimPrefix(blocks[1], "sh\n"), strings.TrimPrefix(blocks[3], "\n")
	var commands [][]string
	for _, line := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
		if words := shellWords(t, line); len(words) > 0 {
			commands = append(commands, words)
		}
	}
	return commands, output
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

// curl does what the README's curl command asks: -s, -X METHOD, -H header, -d body, and a URL.
func curl(t *testing.T, args []string) {
	t.Helper()
	method, body, target := http.MethodGet, "", ""
	header := http.Header{}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-s":
		case "-X":
			i++
			method = args[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(args[i], ":")
			header.Set(k, strings.TrimSpace(v))
		case "-d":
			i++
			body = args[i]
		default:
			target = args[i]
		}
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("curl %v: HTTP %d", args, res.StatusCode)
	}
}
