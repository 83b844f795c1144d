package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/browser"
)

// TestEveryViewIsPhotographed runs `make screenshots` into a temporary directory: each view becomes a PNG of the
// window's size, so the README's pictures can always be made again.
func TestEveryViewIsPhotographed(t *testing.T) {
	if _, err := browser.Find(); errors.Is(err, browser.ErrNoBrowser) {
		t.Skipf("skipped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(ctx, []string{"--out", dir}, &out); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{"requests": {1280, 800}, "request": {1280, 900}, "user": {1280, 900},
		"piano": {1280, 800}, "faults": {1280, 800}, "relay": {1280, 800}, "scenarios": {1280, 900},
		"narrow": {420, 860}}
	if got := strings.Count(out.String(), "\n"); got != len(want) {
		t.Errorf("it printed %d paths, want %d:\n%s", got, len(want), out.String())
	}
	for name, size := range want {
		f, err := os.Open(filepath.Join(dir, "inspector-"+name+".png"))
		if err != nil {
			t.Error(err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		_ = f.Close()
		if err != nil || cfg.Width != size[0] || cfg.Height != size[1] {
			t.Errorf("inspector-%s.png: %dx%d (%v), want a %dx%d PNG", name, cfg.Width, cfg.Height, err, size[0],
				size[1])
		}
	}
}
