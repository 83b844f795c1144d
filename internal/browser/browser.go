// Package browser starts a headless Chromium through chromedp: the inspector's browser tests and
// `make screenshots` drive the same one, so the README's pictures are of the page the tests check.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/chromedp/chromedp"
)

// EnvPath names a browser binary to use instead of looking one up on PATH.
const EnvPath = "CHROMIUM"

// names are the usual names of a Chromium on PATH, Debian's package first.
var names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

// ErrNoBrowser says no browser was found; tests skip with it, naming what to install.
var ErrNoBrowser = errors.New("no Chromium found: install Debian's chromium package (apt-get install chromium), " +
	"or name a binary in $" + EnvPath)

// Find is the browser to drive: $CHROMIUM when set, else the first usual name on PATH.
func Find() (string, error) {
	if p := os.Getenv(EnvPath); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$%s: %w", EnvPath, err)
		}
		return p, nil
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Start opens a headless browser with a window of width × height; tabs are chromedp.NewContext of the context
// it returns, and stop closes the browser.
func Start(ctx context.Context, width, height int) (browser context.Context, stop func(), err error) {
	path, err := Find()
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.WindowSize(width, height),
		// the sandbox needs user namespaces a container or root often lacks; the pages are the harness's own
		chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		return nil, nil, fmt.Errorf("start %s: %w", path, err)
	}
	return bctx, func() { cancelBrowser(); cancelAlloc() }, nil
}

// Screenshot saves the tab's viewport as a PNG, making the directory.
func Screenshot(tab context.Context, path string) error {
	png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// FileName turns a test's name into a file name.
func FileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '-'
		}
		return r
	}, name)
}
