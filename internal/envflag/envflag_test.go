package envflag

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func newSet() (*flag.FlagSet, *string, *int) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:8081", "address")
	limit := fs.Int("journal-limit", 10000, "entries")
	return fs, listen, limit
}

func TestEnvironmentFillsFlagsNotGiven(t *testing.T) {
	fs, listen, limit := newSet()
	env := map[string]string{"SIMULATOR_JOURNAL_LIMIT": "50", "SIMULATOR_LISTEN": "0.0.0.0:9"}
	if err := Parse(fs, []string{"--listen", "127.0.0.1:7"}, "SIMULATOR",
		func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *listen != "127.0.0.1:7" {
		t.Errorf("flag must win over env: expected 127.0.0.1:7, got %s", *listen)
	}
	if *limit != 50 {
		t.Errorf("env must fill an unset flag: expected 50, got %d", *limit)
	}
}

func TestBadEnvironmentValueNamesTheVariable(t *testing.T) {
	fs, _, _ := newSet()
	err := Parse(fs, nil, "SIMULATOR", func(k string) string {
		if k == "SIMULATOR_JOURNAL_LIMIT" {
			return "lots"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "SIMULATOR_JOURNAL_LIMIT") || !strings.Contains(err.Error(),
		`"lots"`) {
		t.Fatalf("expected an error naming SIMULATOR_JOURNAL_LIMIT and the value, got %v", err)
	}
}
