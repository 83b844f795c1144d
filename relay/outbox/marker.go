package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// MarkerName is the file beside the outbox by which the relay knows the outbox it made: when it was closed
// cleanly, its size and time then, and what it held. An outbox emptied, removed or changed behind the relay's
// back is noticed at start-up instead of silently starting over.
const MarkerName = "outbox.json"

// Marker states.
const (
	stateOpen   = "open"
	stateClosed = "closed"
	// stateMoved: its contents were moved into another outbox (relay outbox salvage --outbox-dsn)
	stateMoved = "moved"
)

type marker struct {
	File      string    `json:"file"`
	CreatedAt time.Time `json:"created_at"`
	State     string    `json:"state"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	Size      int64     `json:"size,omitempty"`
	Modified  time.Time `json:"modified,omitzero"`
	Pending   int       `json:"pending"`
	MovedTo   string    `json:"moved_to,omitempty"`
	MovedAt   time.Time `json:"moved_at,omitzero"`
}

// movedError refuses an outbox whose contents were moved elsewhere: its jobs are delivered from there.
func (m marker) movedError(path string) error {
	return fmt.Errorf("outbox %s was moved into %s at %s (relay outbox salvage): its jobs are delivered from "+
		"there, and a relay on this file would send them a second time; start the relays on that outbox, or remove "+
		"%s to start an empty one here", path, m.MovedTo, m.MovedAt.Format(time.RFC3339), filepath.Dir(path))
}

func readMarker(dir string) (marker, bool, error) {
	var m marker
	raw, err := os.ReadFile(filepath.Join(dir, MarkerName))
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil {
		return m, false, fmt.Errorf("outbox marker %s: %w (remove it only if %s is the outbox you mean to use)",
			filepath.Join(dir, MarkerName), err, filepath.Join(dir, FileName))
	}
	return m, true, nil
}

// writeMarker replaces the marker durably: a temporary file, synced, renamed over it, and the directory synced.
func writeMarker(dir string, m marker) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, MarkerName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, MarkerName)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the renames and new names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// unchangedSince reports whether the file is as the relay left it at a clean close.
func (m marker) unchangedSince(fi os.FileInfo) bool {
	return m.State == stateClosed && m.Size == fi.Size() && m.Modified.Equal(fi.ModTime())
}

// DamagedError is an outbox the relay will not start on: emptied, removed, or damaged. It says what happened and
// the way out.
type DamagedError struct {
	Path string
	// What happened, and Report what a check found (nil when there is no file to check).
	What   string
	Report *Report
	dir    string
}

func (e *DamagedError) Error() string {
	msg := fmt.Sprintf("outbox %s: %s", e.Path, e.What)
	if e.Report != nil {
		msg += "\n" + e.Report.String()
	}
	return msg + fmt.Sprintf(`
the way out (nothing is lost until you choose):
  relay outbox check --data-dir %[1]s                  what the outbox holds and what is damaged
  relay outbox salvage --data-dir %[1]s --to NEWDIR    copy everything readable into a new outbox, then start the
                                                       relay with --data-dir NEWDIR
  relay --outbox-start-empty ...                       set the outbox aside (renamed, not deleted) and start empty:
                                                       its pending jobs and remembered event ids are lost`, e.dir)
}

// setAside renames a file the relay will not use, so starting empty never destroys what might be recovered.
func setAside(path string, now time.Time) (string, error) {
	aside := fmt.Sprintf("%s.set-aside-%s", path, now.UTC().Format("20060102T150405Z"))
	return aside, os.Rename(path, aside)
}

// vet decides whether bbolt may open the file: a new outbox, or one that passes Check.
func vet(dir, path string, m marker, known bool, opts Options) error {
	if known && m.State == stateMoved {
		return m.movedError(path)
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("outbox %s: %w", path, err)
	case err != nil || fi.Size() == 0:
		if !known {
			return nil // a new outbox
		}
		what := "missing"
		if err == nil {
			what = "empty"
		}
		why := fmt.Sprintf("the file is %s, but the marker %s says it held %d pending jobs when the relay last "+
			"used it (%s): it was emptied or removed", what, filepath.Join(dir, MarkerName), m.Pending,
			m.State)
		return startEmptyOr(&DamagedError{Path: path, What: why, dir: dir}, err == nil, opts)
	}
	// checked even when the file is as the relay left it: a disk that flips bytes changes neither size nor time
	// a running relay holds bbolt's lock: its live file would read as damaged
	if err := lockedElsewhere(path); err != nil {
		return err
	}
	rep, err := Check(path)
	if err != nil {
		return startEmptyOr(&DamagedError{Path: path, What: err.Error(), dir: dir}, true, opts)
	}
	if !rep.OK() {
		why := "damaged"
		switch {
		case known && m.unchangedSince(fi):
			why = "damaged, though its size and time are as the relay left them (the disk or something " +
				"writing below the file system changed it)"
		case known && m.State == stateClosed:
			why = "changed since the relay closed it, and damaged"
		}
		return startEmptyOr(&DamagedError{Path: path, What: why, Report: &rep, dir: dir}, true, opts)
	}
	return nil
}

// startEmptyOr refuses with the error, or with StartEmpty sets the file aside (when there is one).
func startEmptyOr(e *DamagedError, fileThere bool, opts Options) error {
	if !opts.StartEmpty {
		return e
	}
	if fileThere {
		aside, err := setAside(e.Path, time.Now())
		if err != nil {
			return fmt.Errorf("setting %s aside: %w", e.Path, err)
		}
		if opts.SetAside != nil {
			opts.SetAside(e.Path, aside, e.What)
		}
	}
	if err := os.Remove(filepath.Join(filepath.Dir(e.Path), MarkerName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// lockedElsewhere fails when another process holds the file's lock (bbolt takes an exclusive flock).
func lockedElsewhere(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("outbox %s is in use by another relay process (one relay per data dir)", path)
	}
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
