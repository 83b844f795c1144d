package outbox

import (
	"crypto/rand"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
)

// BenchmarkAccept stores webhooks of one job each from 256 senders, as the relay's intake does under load, with
// event ids in no order (RevenueCat's are UUIDs) and in the order they were made (as `simulator load` makes them).
// cpu-µs/op is what a webhook costs the machine; pages/op, the pages each one makes the commit write;
// writes/commit, how many webhooks share a commit.
func BenchmarkAccept(b *testing.B) {
	var seq atomic.Int64
	for _, ids := range []struct {
		name string
		next func() string
	}{
		{"random-ids", rand.Text},
		{"ordered-ids", func() string { return fmt.Sprintf("e%012d", seq.Add(1)) }},
	} {
		b.Run(ids.name, func(b *testing.B) { benchmarkAccept(b, ids.next) })
	}
}

func benchmarkAccept(b *testing.B, nextID func() string) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	before, cpu, commits := s.db.Stats().TxStats, cpuTime(), s.commits.commits.Load()
	b.SetParallelism(max(1, 256/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := nextID()
			if dup, err := s.Accept("revenuecat", id, []Job{job(`{"d":[{"identity":"u","evtName":"x"}]}`)}); dup ||
				err != nil {
				b.Errorf("accept %s: duplicate %v, %v", id, dup, err)
				return
			}
		}
	})
	b.StopTimer()
	after, used, commits := s.db.Stats().TxStats, cpuTime()-cpu, s.commits.commits.Load()-commits
	b.ReportMetric(float64(used)/1e3/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(after.GetWrite()-before.GetWrite())/float64(b.N), "pages/op")
	b.ReportMetric(float64(b.N)/float64(max(commits, 1)), "writes/commit")
}

// cpuTime is the CPU time the process has used, in nanoseconds.
func cpuTime() int64 {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return u.Utime.Nano() + u.Stime.Nano()
}

// BenchmarkDeliver marks and removes stored jobs in uploads of 400, as delivery does at saturation: what each
// delivered job costs the outbox after its webhook was accepted (op: one job).
func BenchmarkDeliver(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const upload = 400
	var stored [][]Job
	for n := 0; n < b.N; n += upload {
		jobs := make([]Job, min(upload, b.N-n))
		for i := range jobs {
			jobs[i] = job(`{"d":[{"identity":"u","evtName":"x"}]}`)
		}
		if _, err := s.Accept("revenuecat", fmt.Sprintf("e%012d", n), jobs); err != nil {
			b.Fatal(err)
		}
		stored = append(stored, jobs)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	for _, jobs := range stored {
		ids := make([]uint64, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		if err := s.MarkSending(ids); err != nil {
			b.Fatal(err)
		}
		if err := s.Done(jobs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/1e3/float64(b.N), "cpu-µs/op")
	if c, err := s.Counts(); err != nil || c.Pending != 0 {
		b.Fatalf("after delivery: %+v, %v; expected nothing pending", c, err)
	}
}
