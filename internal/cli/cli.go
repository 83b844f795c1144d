// Package cli is what both binaries' command lines share, on cobra: one table of exit codes, one rule for
// environment twins (every flag of every command, <BINARY>_<FLAG>), warnings for variables that are no flag's
// twin, and error printing.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ctharness/ctharness/internal/suggest"
	"github.com/ctharness/ctharness/internal/syncbuf"
)

// Exit codes, the same for every command of both binaries (the README's table).
const (
	ExitOK = 0
	// ExitFailed: what was checked failed: a scenario, a health check, an outbox check, refused webhooks.
	ExitFailed = 1
	// ExitUsage: a flag, an argument or a file is wrong, or nothing was selected.
	ExitUsage = 2
	// ExitUnreachable: the stack (or the target) cannot be reached.
	ExitUnreachable = 3
	// ExitNoSpace: the disk is full (or a file reached its size limit): nothing is wrong with the command line.
	ExitNoSpace = 4
)

// ExitError is an error with its exit code.
type ExitError struct {
	Code int
	Err  error
	// help is the command whose --help to point at, for usage errors
	help string
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Failed, Usage and Unreachable wrap an error with its exit code.
func Failed(err error) error      { return &ExitError{Code: ExitFailed, Err: err} }
func Usage(err error) error       { return &ExitError{Code: ExitUsage, Err: err} }
func Unreachable(err error) error { return &ExitError{Code: ExitUnreachable, Err: err} }

// Usagef is Usage of a formatted error.
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// Code is the exit code of an error returned by Execute's command: its own, else ExitFailed.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitFailed
}

// EnvName is a flag's environment twin: --journal-limit of the simulator is SIMULATOR_JOURNAL_LIMIT.
func EnvName(prefix, flag string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Execute runs the command line: flags may come anywhere among the arguments, and a flag not given takes its
// environment twin. The error (nil on success) carries the exit code; Exit prints it.
func Execute(ctx context.Context, root *cobra.Command, args []string, prefix string, getenv func(string) string,
	stdout, stderr io.Writer) error {
	stdout, stderr = serialized(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors, root.SilenceUsage = true, true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return Usage(withSuggestion(err, c)) })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd, prefix, getenv) }
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	var e *ExitError
	switch {
	case diskFull(err):
		e = &ExitError{Code: ExitNoSpace, Err: fmt.Errorf("%w\nthe disk is full (or the file named above reached its "+
			"size limit): free space on the disk that holds it, or point the command at another directory, and "+
			"run it again; nothing was lost that had been acknowledged", err)}
	case !errors.As(err, &e):
		// cobra's own errors (an unknown command, a wrong number of arguments) come before the command ran
		e = &ExitError{Code: ExitUsage, Err: withSuggestion(err, cmd)}
	}
	if e.Code == ExitUsage && cmd != nil {
		e.help = cmd.CommandPath()
	}
	return e
}

// unknownCommand and unknownFlag find the word in cobra's and pflag's errors.
var (
	unknownCommand = regexp.MustCompile(`^unknown command "([^"]*)"`)
	unknownFlag    = regexp.MustCompile(`^unknown (?:shorthand )?flag: '?-{1,2}([^' ]+)`)
)

// withSuggestion adds a did-you-mean to an unknown command or flag: the commands of cmd, or its flags.
func withSuggestion(err error, cmd *cobra.Command) error {
	if cmd == nil {
		return err
	}
	msg := err.Error()
	if first, _, found := strings.Cut(msg, "\n\nDid you mean this?"); found {
		err, msg = errors.New(first), first // cobra's own suggestion, over several lines: one line instead
	}
	var names []string
	var got, prefix string
	if m := unknownCommand.FindStringSubmatch(msg); m != nil {
		got = m[1]
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				names = append(names, c.Name())
			}
		}
	} else if m := unknownFlag.FindStringSubmatch(msg); m != nil {
		got, prefix = m[1], "--"
		cmd.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	}
	if got == "" {
		return err
	}
	if s := suggest.Closest(got, names); s != "" {
		return fmt.Errorf("%w (did you mean %q?)", err, prefix+s)
	}
	return err
}

// diskFull says whether an error comes from a full disk or a file at its size limit; storage libraries do not
// always wrap the system's error, so its words count too.
func diskFull(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "no space left on device") || strings.Contains(msg, "disk quota exceeded") ||
		strings.Contains(msg, "file too large")
}

// Exit prints a command's error as "<binary>: <error>" (with a pointer to --help for usage errors) and returns
// the exit code.
func Exit(binary string, err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "%s: %v\n", binary, err)
	var e *ExitError
	if errors.As(err, &e) && e.help != "" {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", e.help)
	}
	return Code(err)
}

// applyEnv sets every flag of cmd not given on the command line from its environment twin.
func applyEnv(cmd *cobra.Command, prefix string, getenv func(string) string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || f.Name == "version" {
			return
		}
		name := EnvName(prefix, f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if setErr := f.Value.Set(v); setErr != nil {
			err = Usagef("environment variable %s=%q: expected a value for --%s (%s): %v", name, v, f.Name, f.Usage,
				setErr)
		}
	})
	return err
}

// EnvNames are the environment twins of every flag of every command, sorted.
func EnvNames(root *cobra.Command, prefix string) []string {
	var names []string
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if n := EnvName(prefix, f.Name); f.Name != "help" && f.Name != "version" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	slices.Sort(names)
	return names
}

// UnknownEnv warns of <PREFIX>_* variables in environ that are no flag's twin: a misspelt twin would otherwise
// be ignored without a word. extra are other variables of that prefix the program reads.
func UnknownEnv(root *cobra.Command, prefix string, environ []string, extra ...string) []string {
	known := append(EnvNames(root, prefix), extra...)
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, prefix+"_") || slices.Contains(known, name) {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("warning: %s is set, but no flag of %s has that twin%s", name,
			root.Name(), suggest.DidYouMean(name, known)))
	}
	return warnings
}

// serialized makes each writer safe for the goroutines a command starts (progress lines, server logs): a caller
// such as a test may pass a bytes.Buffer, or one writer as both stdout and stderr. Files stay as given: writes to
// a file are already whole, and a command asks whether its output is a terminal.
func serialized(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	wrap := func(w io.Writer) io.Writer {
		if _, ok := w.(*os.File); ok || w == nil {
			return w
		}
		return &syncbuf.Writer{W: w}
	}
	if stdout == stderr {
		w := wrap(stdout)
		return w, w
	}
	return wrap(stdout), wrap(stderr)
}
