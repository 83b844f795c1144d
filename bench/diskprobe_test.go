package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSyncProbeCountsItsSyncsAndLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	p, err := startSyncProbe(dir, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// wait for a few syncs (each is a real fsync, so how long they take is the disk's)
	for deadline := time.Now().Add(30 * time.Second); ; {
		p.mu.Lock()
		syncs := p.syncs
		p.mu.Unlock()
		if syncs >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected 5 syncs within 30 s, got %d", syncs)
		}
		time.Sleep(time.Millisecond)
	}
	seen, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if seen.Syncs < 5 || seen.Slowest <= 0 || seen.Stalls > seen.Syncs {
		t.Fatalf("expected at least 5 syncs, a slowest above 0 and no more stalls than syncs, got %+v", seen)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("expected the probe's file gone, found %d entries", len(left))
	}
}

func TestSyncProbeNeedsItsDirectory(t *testing.T) {
	if _, err := startSyncProbe(filepath.Join(t.TempDir(), "missing"), time.Millisecond); err == nil {
		t.Fatal("expected an error for a directory that does not exist")
	}
}
