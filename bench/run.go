package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/pgtest"
	"github.com/ctharness/ctharness/simulator/load"
)

// Options choose what to measure and with what.
type Options struct {
	// Simulator and Relay are the binaries to measure (make build puts them in bin/).
	Simulator, Relay string
	// Self is this bench binary, started again as the baseline servers ("bench serve ...").
	Self string
	// Repo is the repository root, for the e2e suite.
	Repo string
	// Uploads is the number of 1000-record uploads of the ingest figure (default 1000: one million records).
	Uploads int
	// Webhooks is the number of webhooks of the relay's saturation figure (default 1,000,000).
	Webhooks int
	// AckRate and AckDuration are the fixed-rate run of the latency figures (default 2000/s for 10 s).
	AckRate     float64
	AckDuration time.Duration
	// Concurrency is the connections of the saturation runs (default 256).
	Concurrency int
	// Repeats is how many fresh relays the ack latency is measured on (default 3); its figures are the worst.
	Repeats int
	// SyncProbe runs a bare sync loop (syncProbe) beside each ack latency run on disk and prints what it saw. Off by
	// default: its own syncs may change the tail it is there to explain (docs/performance.md, "What stalls the
	// disk").
	SyncProbe bool
	// ProxyUploads is the 1000-record uploads of the proxy's latency figures, each way (default 500), and
	// ProxyExchanges the one-record exchanges of its memory figure (default 1,000,000).
	ProxyUploads, ProxyExchanges int
	// PostgresWebhooks is the webhooks of each Postgres saturation run (default 100,000); those figures need
	// Debian's postgresql (without it they are left out, saying why).
	PostgresWebhooks int
	// Procs is the Ginkgo processes of the e2e figure (default 6); Skip names figures to leave out.
	Procs int
	Skip  []string
	// Progress receives a line per step.
	Progress io.Writer
}

func (o *Options) defaults() {
	if o.Uploads == 0 {
		o.Uploads = 1000
	}
	if o.Webhooks == 0 {
		o.Webhooks = 1_000_000
	}
	if o.AckRate == 0 {
		o.AckRate = 2000
	}
	if o.AckDuration == 0 {
		o.AckDuration = 10 * time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 256
	}
	if o.Procs == 0 {
		o.Procs = 6
	}
	if o.ProxyUploads == 0 {
		o.ProxyUploads = 500
	}
	if o.ProxyExchanges == 0 {
		o.ProxyExchanges = 1_000_000
	}
	if o.PostgresWebhooks == 0 {
		o.PostgresWebhooks = 100_000
	}
	if o.Repeats == 0 {
		o.Repeats = 3
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

func (o Options) skipped(name string) bool { return slices.Contains(o.Skip, name) }

// Run measures every figure and returns the table's lines.
func Run(ctx context.Context, o Options) ([]Figure, error) {
	o.defaults()
	work, err := os.MkdirTemp("", "ctharness-bench-")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "bench: logs and data in %s\n", work)
	var figures []Figure
	if !o.skipped("ingest") {
		f, err := o.ingestFigures(ctx, work)
		if err != nil {
			return figures, fmt.Errorf("ingest: %w", err)
		}
		figures = append(figures, f...)
	}
	if !o.skipped("relay") {
		f, err := o.relayFigures(ctx, work)
		if err != nil {
			return figures, fmt.Errorf("relay: %w", err)
		}
		figures = append(figures, f...)
	}
	if !o.skipped("postgres") {
		if _, err := pgtest.Find(); err != nil {
			fmt.Fprintf(o.Progress, "bench: the PostgreSQL figures are left out: %v\n", err)
		} else {
			f, err := o.postgresFigures(ctx, work)
			if err != nil {
				return figures, fmt.Errorf("postgres: %w", err)
			}
			figures = append(figures, f...)
		}
	}
	if !o.skipped("proxy") {
		f, err := o.proxyFigures(ctx, work)
		if err != nil {
			return figures, fmt.Errorf("proxy: %w", err)
		}
		figures = append(figures, f...)
	}
	if !o.skipped("e2e") {
		fmt.Fprintf(o.Progress, "bench: e2e suite with %d Ginkgo processes\n", o.Procs)
		run, err := runSuite(ctx, o.Repo, o.Procs, work)
		if err != nil {
			return figures, err
		}
		figures = append(figures, Figure{Name: fmt.Sprintf("e2e suite wall time, %d specs, --procs %d", run.specs, o.Procs),
			Unit:     "s",
			Measured: run.wall.Seconds(), Baseline: run.serial.Seconds(), BaselineName: "sum of the specs' own times",
			Goal: "< 15 s", Met: run.wall < 15*time.Second})
	}
	_ = os.RemoveAll(work)
	return figures, nil
}

// ingestFigures: the fake's records/s for 1000-record uploads against the encoding/json baseline, and its memory
// after a tenth and after all of the records.
func (o Options) ingestFigures(ctx context.Context, work string) ([]Figure, error) {
	base, err := start(ctx, work, "ingest-baseline", o.Self, []string{"serve", "--handler", "ingest", "--listen",
		"{addr}"},
		"/health")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "bench: ingest baseline (encoding/json), %d uploads of 1000 records\n", o.Uploads)
	baseRate, err := ingest(ctx, base.URL()+"/eu1/1/upload", o.Uploads, 4, nil)
	_ = base.Close()
	if err != nil {
		return nil, err
	}

	sim, err := start(ctx, work, "ingest-simulator", o.Simulator, []string{"serve", "--listen", "{addr}", "--quiet"},
		"/_sim/health")
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	fmt.Fprintf(o.Progress, "bench: ingest fake CleverTap, %d uploads of 1000 records\n", o.Uploads)
	// the store keeps the newest 100,000 records: the baseline is the peak while they fill it and turn over once
	// (records 0 to 200k), the figure the peak of the rest
	var tenth harness.Memory
	var mu sync.Mutex
	fakeMem := sample(sim.Pid())
	fakeRate, err := ingest(ctx, sim.URL()+"/eu1/1/upload", o.Uploads, 4, func(n int) {
		if n == 2 {
			mu.Lock()
			tenth, fakeMem = fakeMem.peak(), sample(sim.Pid())
			mu.Unlock()
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		fakeMem.peak()
		return nil, err
	}
	peak := fakeMem.peak()
	records := float64(o.Uploads) * 1000
	return []Figure{
		{Name: "fake ingest, 1000-record uploads", Unit: "records/s", Measured: fakeRate, Baseline: baseRate,
			BaselineName: "encoding/json decode + fixed answer", Goal: "ratio ≥ 1.0 and ≥ 300000/s",
			Met: fakeRate >= baseRate && fakeRate >= 300000},
		{Name: fmt.Sprintf("fake peak RSS, records %s to %s", count(records/5), count(records)), Unit: "MiB",
			Measured: peak.Anon + peak.File, Baseline: tenth.Anon + tenth.File,
			BaselineName: fmt.Sprintf("peak RSS over the first %s", count(records/5)), Goal: "bounded: ratio < 1.5",
			Met: tenth.Anon > 0 && peak.Anon+peak.File < 1.5*(tenth.Anon+tenth.File)},
	}, nil
}

// vendor is whose webhooks the relay figures send: RevenueCat's mix maps each webhook to one CleverTap record.
const vendor = "revenuecat"

// loads makes the relay figures' load options.
type loads struct{ o Options }

func (l loads) base(target string) load.Options {
	return load.Options{Source: vendor, Credential: harness.DefaultCredential(vendor), Users: 1000,
		Concurrency: l.o.Concurrency, Target: target}
}

// fixedRate is the latency run: AckRate for AckDuration.
func (l loads) fixedRate(target string) load.Options {
	lo := l.base(target)
	lo.Rate, lo.Duration = l.o.AckRate, l.o.AckDuration
	return lo
}

// asFastAsItGoes sends count webhooks from Concurrency connections.
func (l loads) asFastAsItGoes(target string, count int) load.Options {
	lo := l.base(target)
	lo.Count, lo.Duration = count, load.MaxDuration
	return lo
}

// pair starts a fake and a relay (its own outbox, in work) as processes of the bench.
func (o Options) pair(ctx context.Context, work, name string) (sim, rel *harness.Process, err error) {
	return o.pairIn(ctx, work, work, name)
}

// pairIn is pair with the relay's outbox in dataDir.
func (o Options) pairIn(ctx context.Context, work, dataDir, name string) (sim, rel *harness.Process, err error) {
	sim, err = start(ctx, work, name+"-simulator", o.Simulator, []string{"serve", "--listen", "{addr}", "--quiet"},
		"/_sim/health")
	if err != nil {
		return nil, nil, err
	}
	cfgPath, err := harness.WriteRelayConfig(filepath.Join(work), sim.URL())
	if err == nil {
		rel, err = start(ctx, work, name+"-relay", o.Relay, []string{"--config", cfgPath, "--listen", "{addr}",
			"--data-dir", filepath.Join(dataDir, name+"-data"), "--log-level", "warn"}, "/readyz")
	}
	if err != nil {
		_ = sim.Close()
		return nil, nil, err
	}
	return sim, rel, nil
}

// relayFigures: webhooks through the relay to the fake against the same webhooks to a no-op endpoint, at a fixed
// rate (ack latency, on Repeats fresh relays: the figure is the worst) and as fast as they go (saturation), the
// relay's memory, and its memory with a backlog.
func (o Options) relayFigures(ctx context.Context, work string) ([]Figure, error) {
	l := loads{o}
	noopP50, noopP99, noopSat, err := o.noopFigures(ctx, work, l)
	if err != nil {
		return nil, err
	}

	memory, err := inMemoryDir()
	if err != nil {
		fmt.Fprintf(o.Progress, "bench: no in-memory comparison of the ack latency: %v\n", err)
	} else {
		defer os.RemoveAll(memory)
	}
	p50s, p99s, memP99s, probeSlowest, err := o.ackLatencies(ctx, work, memory, l)
	if err != nil {
		return nil, err
	}

	sim, rel, err := o.pair(ctx, work, "saturation")
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	defer rel.Close()
	fmt.Fprintf(o.Progress, "bench: relay as fast as it goes, %d webhooks\n", o.Webhooks)
	var mu sync.Mutex
	var relayTenth harness.Memory
	relayMem := sample(rel.Pid())
	sat, err := withCPU(rel.Pid(), func() (relayRun, error) {
		return runLoad(ctx, l.asFastAsItGoes(rel.URL()+"/webhooks/"+vendor, o.Webhooks), sim.URL(),
			max(o.Webhooks/10, 1), func() {
				mu.Lock()
				relayTenth, relayMem = relayMem.peak(), sample(rel.Pid())
				mu.Unlock()
			})
	})
	mu.Lock()
	relayPeak := relayMem.peak()
	mu.Unlock()
	if err != nil {
		return nil, err
	}
	// the machine's speed drifts over a long run: the no-op baseline is measured before and after it, and the
	// relay is compared with their mean
	noopAfter, err := o.noopAgain(ctx, work, l)
	if err != nil {
		return nil, err
	}
	noopMean := (noopSat.sustained + noopAfter.sustained) / 2
	outboxSize := 0.0
	if fi, err := os.Stat(filepath.Join(work, "saturation-data", "relay.db")); err == nil {
		outboxSize = float64(fi.Size()) / (1 << 20)
	}
	webhooks := float64(o.Webhooks)
	figures := []Figure{
		{Name: "relay saturation, acked and delivered", Unit: "webhooks/s", Measured: sat.sustained,
			Baseline: noopMean, BaselineRuns: []float64{noopSat.sustained, noopAfter.sustained},
			BaselineName: "same load to a no-op endpoint", Goal: "≥ 10000/s and ratio ≥ 0.45",
			Met: sat.sustained >= 10000 && sat.sustained >= 0.45*noopMean},
		{Name: fmt.Sprintf("relay ack p50 at %g/s", o.AckRate), Unit: "ms", Measured: slices.Max(p50s),
			Baseline: slices.Max(noopP50), BaselineName: "same load to a no-op endpoint", Goal: "-", Met: true,
			Runs: p50s},
		{Name: fmt.Sprintf("relay ack p99 at %g/s", o.AckRate), Unit: "ms", Measured: slices.Max(p99s),
			Baseline: slices.Max(noopP99), BaselineName: "same load to a no-op endpoint", Goal: "< 20 ms",
			Met: slices.Max(p99s) < 20, Runs: p99s},
	}
	if err := errors.Join(sat.cpuErr, noopSat.cpuErr, noopAfter.cpuErr); err != nil {
		fmt.Fprintf(o.Progress, "bench: no CPU figure: %v\n", err)
	} else {
		// what the relay's own work costs: it moves with the machine's speed as the no-op's does, but not with how
		// the load generator, the fake and the relay share the cores, which the saturation ratio also measures
		figures = slices.Insert(figures, 1, Figure{Name: "relay CPU a webhook at saturation", Unit: "µs",
			Measured: sat.cpu, Baseline: (noopSat.cpu + noopAfter.cpu) / 2, BaselineRuns: []float64{noopSat.cpu,
				noopAfter.cpu}, BaselineName: "the no-op endpoint's, same load", Goal: "-", Met: true})
	}
	if len(probeSlowest) > 0 {
		figures = append(figures, Figure{Name: "slowest sync of a bare loop beside each run on disk", Unit: "ms",
			Measured: slices.Max(probeSlowest), Baseline: slices.Max(p99s), BaselineName: "the relay's ack p99 then",
			Goal: "- (the disk's own stalls, for a process that is not the relay)", Met: true, Runs: probeSlowest})
	}
	if len(memP99s) > 0 {
		figures = append(figures, Figure{Name: fmt.Sprintf("relay ack p99 at %g/s, outbox in memory", o.AckRate),
			Unit: "ms", Measured: slices.Max(memP99s), Baseline: slices.Max(p99s),
			BaselineName: "the same with the outbox on disk", Goal: "- (the disk's share of the tail)", Met: true,
			Runs: memP99s})
	}
	figures = append(figures, []Figure{
		{Name: fmt.Sprintf("relay peak heap RSS, webhooks %s to %s", count(webhooks/10), count(webhooks)), Unit: "MiB",
			Measured: relayPeak.Anon, Baseline: relayTenth.Anon,
			BaselineName: fmt.Sprintf("peak over the first %s", count(webhooks/10)), Goal: "bounded: ratio < 1.5",
			Met: relayTenth.Anon > 0 && relayPeak.Anon < 1.5*relayTenth.Anon},
		{Name: fmt.Sprintf("relay peak mapped-outbox RSS, %s webhooks", count(webhooks)), Unit: "MiB",
			Measured: relayPeak.File, Baseline: outboxSize,
			BaselineName: "outbox file size (dedupe window)", Goal: "≤ outbox file", Met: relayPeak.File <= outboxSize+16},
	}...)
	ids, err := o.eventIDFigures(ctx, work, l)
	if err != nil {
		return nil, err
	}
	figures = append(figures, ids...)
	backlog, err := o.backlogFigures(ctx, work, l)
	return append(figures, backlog...), err
}

// eventIDFigures: the relay as fast as it goes on fresh relays, with ids shaped like RevenueCat's UUIDs against
// the load generator's ordered ids, which the saturation row uses. Ordered ids land on a few pages of the
// outbox's dedupe index a commit; UUIDs each on a page of their own.
func (o Options) eventIDFigures(ctx context.Context, work string, l loads) ([]Figure, error) {
	n := min(o.Webhooks, 200_000)
	runs := map[string]relayRun{}
	for _, ids := range []string{load.IDsOrdered, load.IDsUUID} {
		sim, rel, err := o.pair(ctx, work, "ids-"+ids)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Progress, "bench: relay as fast as it goes, %d webhooks with %s event ids (a fresh relay)\n",
			n, ids)
		run, err := withCPU(rel.Pid(), func() (relayRun, error) {
			lo := l.asFastAsItGoes(rel.URL()+"/webhooks/"+vendor, n)
			lo.EventIDs = ids
			return runLoad(ctx, lo, sim.URL(), 0, nil)
		})
		_, _ = rel.Close(), sim.Close()
		if err != nil {
			return nil, err
		}
		runs[ids] = run
	}
	ordered, uuid := runs[load.IDsOrdered], runs[load.IDsUUID]
	figures := []Figure{{Name: fmt.Sprintf("relay saturation, %s UUID event ids", count(float64(n))),
		Unit: "webhooks/s", Measured: uuid.sustained, Baseline: ordered.sustained,
		BaselineName: "the same with ordered ids, a fresh relay", Goal: "- (what real ids cost the outbox)", Met: true}}
	if err := errors.Join(ordered.cpuErr, uuid.cpuErr); err != nil {
		fmt.Fprintf(o.Progress, "bench: no CPU figure for the event ids: %v\n", err)
		return figures, nil
	}
	return append(figures, Figure{Name: fmt.Sprintf("relay CPU a webhook, %s UUID event ids", count(float64(n))),
		Unit: "µs", Measured: uuid.cpu, Baseline: ordered.cpu, BaselineName: "the same with ordered ids",
		Goal: "-", Met: true}), nil
}

// noopFigures: the same loads to a no-op endpoint, the baseline of the relay's figures.
func (o Options) noopFigures(ctx context.Context, work string, l loads) (p50, p99 []float64, sat relayRun,
	err error) {
	noop, err := start(ctx, work, "noop", o.Self, []string{"serve", "--handler", "noop", "--listen", "{addr}"}, "/health")
	if err != nil {
		return nil, nil, relayRun{}, err
	}
	defer noop.Close()
	noopURL := noop.URL() + "/webhooks/" + vendor
	fmt.Fprintf(o.Progress, "bench: no-op endpoint at %g/s for %s (%d runs), then as fast as it goes\n", o.AckRate,
		o.AckDuration, o.Repeats)
	for range o.Repeats {
		run, err := runLoad(ctx, l.fixedRate(noopURL), "", 0, nil)
		if err != nil {
			return nil, nil, relayRun{}, err
		}
		p50, p99 = append(p50, ms(run.report.Latency.P50)), append(p99, ms(run.report.Latency.P99))
	}
	sat, err = o.noopSaturation(ctx, noop, l)
	return p50, p99, sat, err
}

// noopSaturation is the no-op endpoint as fast as it goes: the baseline of the relay's saturation.
func (o Options) noopSaturation(ctx context.Context, noop *harness.Process, l loads) (relayRun, error) {
	return withCPU(noop.Pid(), func() (relayRun, error) {
		return runLoad(ctx, l.asFastAsItGoes(noop.URL()+"/webhooks/"+vendor, min(o.Webhooks, 200_000)), "", 0, nil)
	})
}

// noopAgain starts the no-op endpoint again for a second saturation baseline.
func (o Options) noopAgain(ctx context.Context, work string, l loads) (relayRun, error) {
	noop, err := start(ctx, work, "noop-after", o.Self, []string{"serve", "--handler", "noop", "--listen", "{addr}"},
		"/health")
	if err != nil {
		return relayRun{}, err
	}
	defer noop.Close()
	fmt.Fprintf(o.Progress, "bench: no-op endpoint as fast as it goes, again\n")
	return o.noopSaturation(ctx, noop, l)
}

// ackLatencies: the relay's ack p50 and p99 at a fixed rate, each run on a fresh relay; and, when memory names an
// in-memory filesystem, the p99 of a fresh relay whose outbox is there, right after each: its fdatasync costs
// nothing, so the difference is the disk's share of the tail, measured under the same conditions.
// With SyncProbe, a bare sync loop beside each run on disk, in the same directory, says whether the disk stalled
// then for a process that is not the relay: its slowest sync a run is in probeSlowest.
func (o Options) ackLatencies(ctx context.Context, work, memory string, l loads) (p50s, p99s, memP99s,
	probeSlowest []float64, err error) {
	for i := range o.Repeats {
		fmt.Fprintf(o.Progress, "bench: relay at %g/s for %s (run %d of %d, a fresh relay)\n", o.AckRate,
			o.AckDuration, i+1, o.Repeats)
		var probe *syncProbe
		if o.SyncProbe {
			if probe, err = startSyncProbe(work, 20*time.Millisecond); err != nil {
				return nil, nil, nil, nil, err
			}
		}
		run, err := o.ackRun(ctx, work, work, fmt.Sprintf("ack%d", i), l)
		if probe != nil {
			seen, probeErr := probe.Stop()
			if err = errors.Join(err, probeErr); err == nil {
				probeSlowest = append(probeSlowest, ms(seen.Slowest))
				fmt.Fprintf(o.Progress, "bench: run %d on disk: ack p99 %s ms; a bare sync loop beside it: %d "+
					"syncs, the slowest %s ms, %d past %s ms\n", i+1, format(ms(run.report.Latency.P99)),
					seen.Syncs, format(ms(seen.Slowest)), seen.Stalls, format(ms(stallOver)))
			}
		}
		if err != nil {
			return nil, nil, nil, nil, err
		}
		p50s, p99s = append(p50s, ms(run.report.Latency.P50)), append(p99s, ms(run.report.Latency.P99))
		if memory == "" {
			continue
		}
		fmt.Fprintf(o.Progress, "bench: relay at %g/s for %s, its outbox in memory (run %d of %d)\n", o.AckRate,
			o.AckDuration, i+1, o.Repeats)
		if run, err = o.ackRun(ctx, work, memory, fmt.Sprintf("ack-memory%d", i), l); err != nil {
			return nil, nil, nil, nil, err
		}
		memP99s = append(memP99s, ms(run.report.Latency.P99))
	}
	return p50s, p99s, memP99s, probeSlowest, nil
}

// ackRun is one fixed-rate run on a fresh relay whose outbox is in dataDir.
func (o Options) ackRun(ctx context.Context, work, dataDir, name string, l loads) (relayRun, error) {
	sim, rel, err := o.pairIn(ctx, work, dataDir, name)
	if err != nil {
		return relayRun{}, err
	}
	defer sim.Close()
	defer rel.Close()
	return runLoad(ctx, l.fixedRate(rel.URL()+"/webhooks/"+vendor), sim.URL(), 0, nil)
}

// backlogFigures: the relay's memory with every webhook pending (CleverTap answering 503), against the same relay
// idle, and again after a restart on that outbox.
func (o Options) backlogFigures(ctx context.Context, work string, l loads) ([]Figure, error) {
	sim, rel, err := o.pair(ctx, work, "backlog")
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	defer rel.Close()
	fault := strings.NewReader(`{"action":"respond","status":503,"endpoint":"upload"}`)
	resp, err := http.Post(sim.URL()+"/_sim/faults", "application/json", fault)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	idle, err := settled(ctx, rel)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "bench: relay with CleverTap down, %d webhooks pending\n", o.Webhooks)
	if _, err := runLoad(ctx, l.asFastAsItGoes(rel.URL()+"/webhooks/"+vendor, o.Webhooks), "", 0, nil); err != nil {
		return nil, err
	}
	pending, err := settled(ctx, rel)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "bench: the relay restarted on %d pending webhooks\n", o.Webhooks)
	if err := rel.Stop(); err != nil {
		return nil, err
	}
	// a relay checks its whole outbox before it serves (docs/relay.md): 1,000,000 pending jobs are a file of
	// about 1.7 GB, which a slow 2-core VM took 15 s to read before the check stopped decoding sealed jobs
	rel.StartTimeout = 2 * time.Minute
	began := time.Now()
	// sampled from the new process's first moments: the check reads the whole outbox before the relay serves
	stopped, checking := rel.Pid(), make(chan *sampler, 1)
	go func() {
		for time.Since(began) < rel.StartTimeout {
			if pid := rel.Pid(); pid != 0 && pid != stopped {
				checking <- sample(pid)
				return
			}
			time.Sleep(time.Millisecond)
		}
		checking <- nil
	}()
	if err := rel.Start(ctx); err != nil {
		if s := <-checking; s != nil {
			s.peak()
		}
		return nil, err
	}
	s := <-checking
	if s == nil {
		return nil, fmt.Errorf("the restarted relay's process was not seen")
	}
	starting := s.peak()
	fmt.Fprintf(o.Progress, "bench: the restarted relay served after %.1f s (it checks its outbox first)\n",
		time.Since(began).Seconds())
	restarted, err := settled(ctx, rel)
	if err != nil {
		return nil, err
	}
	n := count(float64(o.Webhooks))
	return []Figure{
		{Name: fmt.Sprintf("relay RSS, %s jobs pending", n), Unit: "MiB", Measured: pending.Anon, Baseline: idle.Anon,
			BaselineName: "the same relay idle", Goal: "bounded: < idle + 64 MiB", Met: pending.Anon < idle.Anon+64},
		{Name: fmt.Sprintf("relay peak RSS while restarting on %s pending (its outbox check)", n), Unit: "MiB",
			Measured: starting.Anon, Baseline: idle.Anon, BaselineName: "the same relay idle",
			Goal: "bounded: < idle + 64 MiB", Met: starting.Anon < idle.Anon+64},
		{Name: fmt.Sprintf("relay RSS, restarted on %s pending", n), Unit: "MiB", Measured: restarted.Anon,
			Baseline: idle.Anon, BaselineName: "the same relay idle", Goal: "bounded: < idle + 64 MiB",
			Met: restarted.Anon < idle.Anon+64},
	}, nil
}

// settled is a process's memory once the relay has had the time to give a burst's memory back (it checks every
// 5 s and gives it back at the first check without webhooks: within 10 s) and it stayed within 1 MiB for three
// readings a second apart, or after 40 s.
func settled(ctx context.Context, p *harness.Process) (harness.Memory, error) {
	var last harness.Memory
	steady := 0
	notBefore := time.Now().Add(11 * time.Second)
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline) &&
		(steady < 3 || time.Now().Before(notBefore)); {
		m, err := p.Memory()
		if err != nil {
			return m, err
		}
		if math.Abs(m.Anon-last.Anon) < 1 {
			steady++
		} else {
			steady = 0
		}
		last = m
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return last, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func count(n float64) string {
	switch {
	case n >= 1e6 && int(n)%1e6 == 0:
		return fmt.Sprintf("%dM", int(n/1e6))
	case n >= 1e3 && int(n)%1e3 == 0:
		return fmt.Sprintf("%dk", int(n/1e3))
	}
	return fmt.Sprintf("%d", int(n))
}
