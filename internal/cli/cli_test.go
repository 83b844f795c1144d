package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// tree is a binary with two commands sharing a flag name, as the simulator's serve and up share --listen.
func tree(got *map[string]string) *cobra.Command {
	root := &cobra.Command{Use: "tool"}
	for _, name := range []string{"serve", "up"} {
		var listen string
		var limit int
		var wait time.Duration
		cmd := &cobra.Command{Use: name, RunE: func(*cobra.Command, []string) error {
			(*got)["listen"], (*got)["limit"], (*got)["wait"] = listen, strconv.Itoa(limit), wait.String()
			return nil
		}}
		cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:1", "")
		cmd.Flags().IntVar(&limit, "journal-limit", 10, "")
		cmd.Flags().DurationVar(&wait, "wait", time.Second, "")
		root.AddCommand(cmd)
	}
	root.AddCommand(&cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error {
		return Unreachable(errors.New("down"))
	}})
	return root
}

func TestEveryFlagHasItsTwinAndFlagsWin(t *testing.T) {
	env := map[string]string{"TOOL_LISTEN": "0.0.0.0:9", "TOOL_JOURNAL_LIMIT": "7", "TOOL_WAIT": "3s"}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		args []string
		want map[string]string
	}{
		{[]string{"up"}, map[string]string{"listen": "0.0.0.0:9", "limit": "7", "wait": "3s"}},
		{[]string{"serve", "--listen", "127.0.0.1:5"}, map[string]string{"listen": "127.0.0.1:5", "limit": "7",
			"wait": "3s"}},
		{[]string{"serve", "--wait", "1m0s"}, map[string]string{"listen": "0.0.0.0:9", "limit": "7", "wait": "1m0s"}},
	} {
		got := map[string]string{}
		var out bytes.Buffer
		if err := Execute(context.Background(), tree(&got), c.args, "TOOL", getenv, &out, &out); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%v: %s: expected %q, got %q", c.args, k, v, got[k])
			}
		}
	}
}

func TestABadTwinNamesTheVariableAndTheFlag(t *testing.T) {
	got := map[string]string{}
	var out bytes.Buffer
	err := Execute(context.Background(), tree(&got), []string{"serve"}, "TOOL",
		func(k string) string { return map[string]string{"TOOL_WAIT": "soon"}[k] }, &out, &out)
	if Code(err) != ExitUsage || !strings.Contains(err.Error(), `environment variable TOOL_WAIT="soon": expected a `+
		`value for --wait`) {
		t.Fatalf("expected a usage error naming TOOL_WAIT and --wait, got %d %v", Code(err), err)
	}
}

func TestExitCodes(t *testing.T) {
	got := map[string]string{}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"up"}, ExitOK},
		{[]string{"--help"}, ExitOK},
		{[]string{"help", "up"}, ExitOK},
		{[]string{"upp"}, ExitUsage},
		{[]string{"up", "--no-such-flag"}, ExitUsage},
		{[]string{"up", "--journal-limit", "many"}, ExitUsage},
		{[]string{"fail"}, ExitUnreachable},
	} {
		var out, errOut bytes.Buffer
		err := Execute(context.Background(), tree(&got), c.args, "TOOL", func(string) string { return "" }, &out,
			&errOut)
		if code := Exit("tool", err, &errOut); code != c.code {
			t.Errorf("%v: expected exit %d, got %d (%v)", c.args, c.code, code, err)
		}
		if c.code == ExitUsage && !strings.Contains(errOut.String(), "--help' for usage") {
			t.Errorf("%v: a usage error should point at --help, got %q", c.args, errOut.String())
		}
	}
}

func TestUnknownTwinsAreWarnedAbout(t *testing.T) {
	got := map[string]string{}
	warnings := UnknownEnv(tree(&got), "TOOL", []string{"TOOL_LISTN=x", "TOOL_LISTEN=y", "PATH=/bin",
		"TOOL_COLOUR=red", "TOOL_EXTRA=1"}, "TOOL_EXTRA")
	if len(warnings) != 2 || !strings.Contains(warnings[0], `TOOL_LISTN is set, but no flag of tool has that twin `+
		`(did you mean "TOOL_LISTEN"?)`) || !strings.Contains(warnings[1], "TOOL_COLOUR") {
		t.Fatalf("expected warnings for TOOL_LISTN (with a suggestion) and TOOL_COLOUR, got %q", warnings)
	}
}

// A full disk is not a usage error: it says what is full and what to do, with its own code, whether the storage
// library wrapped the system's error or only quoted it.
func TestAFullDiskIsNotAUsageError(t *testing.T) {
	for _, failure := range []error{
		fmt.Errorf("outbox /data/relay.db: %w", &fs.PathError{Op: "write", Path: "/data/relay.db", Err: syscall.ENOSPC}),
		errors.New("file resize error: truncate /data/relay.db: file too large"),
	} {
		root := &cobra.Command{Use: "tool", RunE: func(*cobra.Command, []string) error { return failure }}
		var errOut bytes.Buffer
		err := Execute(context.Background(), root, nil, "TOOL", func(string) string { return "" }, &errOut, &errOut)
		if code := Exit("tool", err, &errOut); code != ExitNoSpace || !strings.Contains(errOut.String(),
			"the disk is full") || !strings.Contains(errOut.String(), "/data/relay.db") ||
			strings.Contains(errOut.String(), "--help") {
			t.Errorf("%v: expected exit %d naming the file and the disk, no --help; got %d %q", failure, ExitNoSpace,
				code, errOut.String())
		}
	}
}

func TestUnknownCommandsAndFlagsGetADidYouMean(t *testing.T) {
	for args, want := range map[string]string{
		"srve":                 `unknown command "srve" for "tool" (did you mean "serve"?)`,
		"serve --listn x":      `unknown flag: --listn (did you mean "--listen"?)`,
		"up --journal-limt 3":  `unknown flag: --journal-limt (did you mean "--journal-limit"?)`,
		"serve --zzzzzzzzzzzz": `unknown flag: --zzzzzzzzzzzz`,
	} {
		got := map[string]string{}
		var out bytes.Buffer
		err := Execute(context.Background(), tree(&got), strings.Fields(args), "TOOL",
			func(string) string { return "" }, &out, &out)
		if err == nil || err.Error() != want || Code(err) != ExitUsage {
			t.Errorf("%s: expected %q (exit 2), got %v", args, want, err)
		}
	}
}

// A command's goroutines (progress lines, a server's log) write at once; a test passes one bytes.Buffer as both
// outputs. Under -race an unserialized buffer fails this test; a torn write shows as a line that is not whole.
func TestOutputsAreSafeForTheGoroutinesACommandStarts(t *testing.T) {
	const lines = 200
	root := &cobra.Command{Use: "tool", RunE: func(cmd *cobra.Command, _ []string) error {
		var wg sync.WaitGroup
		for _, w := range []io.Writer{cmd.OutOrStdout(), cmd.ErrOrStderr()} {
			wg.Go(func() {
				for range lines {
					fmt.Fprintln(w, "a whole line")
				}
			})
		}
		wg.Wait()
		return nil
	}}
	var out bytes.Buffer
	if err := Execute(context.Background(), root, nil, "TOOL", func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != 2*lines {
		t.Fatalf("expected %d lines, got %d", 2*lines, len(got))
	}
	for i, l := range got {
		if l != "a whole line" {
			t.Fatalf("line %d torn: %q", i+1, l)
		}
	}
}
