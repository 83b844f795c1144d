package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ctharness/ctharness/internal/envflag"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// runHealth checks a running simulator; images have no shell or curl, so compose health checks call this.
func runHealth(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8081", "simulator base URL")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := envflag.Parse(fs, args, "SIMULATOR_HEALTH", getenv); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := clevertap.NewClient(*url).Health(ctx); err != nil {
		return exitError{code: 1, err: fmt.Errorf("not healthy: %w", err)}
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
