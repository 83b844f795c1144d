package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// suiteRun is the e2e suite run in parallel: its wall time and the sum of its specs' own times (what a serial
// run would take without process start-up).
type suiteRun struct {
	wall, serial time.Duration
	specs        int
}

// runSuite runs the in-process e2e suite with Ginkgo in `procs` processes from the repository at dir.
func runSuite(ctx context.Context, dir string, procs int, logDir string) (suiteRun, error) {
	report := filepath.Join(logDir, "e2e-report.json")
	cmd := exec.CommandContext(ctx, "go", "tool", "ginkgo", "--procs="+strconv.Itoa(procs), "--json-report="+report,
		"./suites/e2e")
	cmd.Dir = dir
	logFile, err := os.Create(filepath.Join(logDir, "e2e.log"))
	if err != nil {
		return suiteRun{}, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return suiteRun{}, fmt.Errorf("e2e suite failed (%v): see %s", err, logFile.Name())
	}
	wall := time.Since(start)
	raw, err := os.ReadFile(report)
	if err != nil {
		return suiteRun{}, err
	}
	var suites []struct {
		SpecReports []struct {
			LeafNodeType string        `json:"LeafNodeType"`
			RunTime      time.Duration `json:"RunTime"`
		} `json:"SpecReports"`
	}
	if err := json.Unmarshal(raw, &suites); err != nil {
		return suiteRun{}, fmt.Errorf("ginkgo JSON report: %w", err)
	}
	run := suiteRun{wall: wall}
	for _, s := range suites {
		for _, r := range s.SpecReports {
			run.serial += r.RunTime
			if r.LeafNodeType == "It" {
				run.specs++
			}
		}
	}
	return run, nil
}
