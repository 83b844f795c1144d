package bench

import (
	"os"
	"sync"
	"time"
)

// syncProbe appends 4 KiB to a file of its own and syncs it every interval, beside a relay whose outbox is in the
// same directory: when the relay's acknowledgements stall, it tells whether the disk stalled for a process that is
// not the relay too (other work on a shared disk holds up every fdatasync on it; docs/performance.md, "What stalls
// the disk"). Light on purpose: a sync every 20 ms against the relay's hundreds a second.
type syncProbe struct {
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	syncs   int
	slowest time.Duration
	stalls  int // syncs slower than stallOver
	err     error
}

// stallOver is what counts as a stall: the ack p99 goal's 20 ms.
const stallOver = 20 * time.Millisecond

// startSyncProbe starts the loop in dir; stop ends it and removes its file.
func startSyncProbe(dir string, interval time.Duration) (*syncProbe, error) {
	f, err := os.CreateTemp(dir, "sync-probe-")
	if err != nil {
		return nil, err
	}
	p := &syncProbe{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(f, interval)
	return p, nil
}

func (p *syncProbe) run(f *os.File, interval time.Duration) {
	defer close(p.done)
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		start := time.Now()
		_, err := f.Write(page)
		if err == nil {
			err = f.Sync()
		}
		took := time.Since(start)
		p.mu.Lock()
		p.syncs++
		p.slowest = max(p.slowest, took)
		if took > stallOver {
			p.stalls++
		}
		p.err = err
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// probeResult is what a probe saw: how many syncs, the slowest, and how many were stalls.
type probeResult struct {
	Syncs   int
	Slowest time.Duration
	Stalls  int
}

// Stop ends the loop and returns what it saw (an error when a write or sync failed).
func (p *syncProbe) Stop() (probeResult, error) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return probeResult{Syncs: p.syncs, Slowest: p.slowest, Stalls: p.stalls}, p.err
}
