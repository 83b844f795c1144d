package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/pgtest"
	"github.com/ctharness/ctharness/simulator/load"
)

// postgresFigures: the relay on a PostgreSQL outbox (a throwaway cluster on this machine), as fast as it goes with
// one and with two replicas on one database, and its ack latency at 1,000/s, each beside a relay on its bbolt
// outbox measured in the same run.
func (o Options) postgresFigures(ctx context.Context, work string) ([]Figure, error) {
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer cluster.Stop()
	l := loads{o}
	count := o.PostgresWebhooks
	fmt.Fprintf(o.Progress, "bench: relay on bbolt, %d webhooks as fast as they go, then 1000/s for %s\n", count,
		o.AckDuration)
	bSat, bAck, err := o.postgresRun(ctx, work, "bbolt", "", 1, l, count, load.IDsOrdered)
	if err != nil {
		return nil, err
	}
	var runs [2]relayRun
	var ack load.Percentiles
	for i, replicas := range []int{1, 2} {
		dsn, err := database(ctx, cluster, fmt.Sprintf("bench%d", replicas))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Progress, "bench: relay on PostgreSQL, %d replica(s), %d webhooks as fast as they go\n",
			replicas, count)
		var a load.Percentiles
		if runs[i], a, err = o.postgresRun(ctx, work, fmt.Sprintf("pg%d", replicas), dsn, replicas, l,
			count, load.IDsOrdered); err != nil {
			return nil, err
		}
		if replicas == 1 {
			ack = a
		}
	}
	// ids shaped like RevenueCat's land anywhere in the dedupe index, as in the bbolt rows of the same name
	dsn, err := database(ctx, cluster, "bench1uuid")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "bench: relay on PostgreSQL, 1 replica, %d webhooks with UUID event ids\n", count)
	uuid, _, err := o.postgresRun(ctx, work, "pg1uuid", dsn, 1, l, count, load.IDsUUID)
	if err != nil {
		return nil, err
	}
	return []Figure{
		{Name: "relay on PostgreSQL, 1 replica, acked and delivered", Unit: "webhooks/s",
			Measured: runs[0].sustained, Baseline: bSat.sustained, BaselineName: "one relay on bbolt",
			Goal: "≥ 5000/s", Met: runs[0].sustained >= 5000},
		{Name: "relay on PostgreSQL, 2 replicas, acked and delivered", Unit: "webhooks/s",
			Measured: runs[1].sustained, Baseline: bSat.sustained, BaselineName: "one relay on bbolt",
			Goal: "-", Met: true},
		{Name: "relay on PostgreSQL, 1 replica, UUID event ids", Unit: "webhooks/s", Measured: uuid.sustained,
			Baseline: runs[0].sustained, BaselineName: "the same with ordered ids", Goal: "-", Met: true},
		{Name: "relay on PostgreSQL, ack p50 at 1000/s", Unit: "ms", Measured: ms(ack.P50),
			Baseline: ms(bAck.P50), BaselineName: "one relay on bbolt", Goal: "-", Met: true},
		{Name: "relay on PostgreSQL, ack p99 at 1000/s", Unit: "ms", Measured: ms(ack.P99),
			Baseline: ms(bAck.P99), BaselineName: "one relay on bbolt", Goal: "< 50 ms", Met: ms(ack.P99) < 50},
	}, nil
}

// postgresRun starts a fake and `replicas` relays (on dsn, or each on its bbolt outbox when dsn is empty), sends
// count webhooks as fast as they go spread over the replicas, then 1000/s to the first for AckDuration, and
// returns the saturation run and that run's ack latencies. ids are the load's event ids (ordered or uuid).
func (o Options) postgresRun(ctx context.Context, work, name, dsn string, replicas int, l loads,
	count int, ids string) (relayRun, load.Percentiles, error) {
	sim, err := start(ctx, work, name+"-simulator", o.Simulator, []string{"serve", "--listen", "{addr}", "--quiet",
		"--journal-limit", "1000"}, "/_sim/health")
	if err != nil {
		return relayRun{}, load.Percentiles{}, err
	}
	defer sim.Close()
	cfgPath, err := harness.WriteRelayConfig(filepath.Join(work), sim.URL())
	if err != nil {
		return relayRun{}, load.Percentiles{}, err
	}
	var relays []*harness.Process
	for i := range replicas {
		args := []string{"--config", cfgPath, "--listen", "{addr}", "--data-dir",
			filepath.Join(work, fmt.Sprintf("%s-%d-data", name, i)), "--log-level", "warn"}
		if dsn != "" {
			args = append(args, "--outbox-dsn", dsn)
		}
		r, err := start(ctx, work, fmt.Sprintf("%s-relay-%d", name, i), o.Relay, args, "/readyz")
		if err != nil {
			return relayRun{}, load.Percentiles{}, err
		}
		defer r.Close()
		relays = append(relays, r)
	}
	before, err := recordsStored(ctx, sim.URL())
	if err != nil {
		return relayRun{}, load.Percentiles{}, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(relays))
	acked := make([]int, len(relays))
	for i, r := range relays {
		wg.Go(func() {
			lo := l.asFastAsItGoes(r.URL()+"/webhooks/"+vendor, count/len(relays))
			lo.Concurrency = max(o.Concurrency/len(relays), 1)
			lo.EventIDs = ids
			rep, err := load.Run(ctx, lo)
			if err == nil && rep.Refused > 0 {
				err = fmt.Errorf("%d of %d webhooks to %s were not acknowledged", rep.Refused, rep.Sent, lo.Target)
			}
			errs[i], acked[i] = err, rep.Acked
		})
	}
	wg.Wait()
	total := 0
	for i := range relays {
		if errs[i] != nil {
			return relayRun{}, load.Percentiles{}, errs[i]
		}
		total += acked[i]
	}
	end, err := waitStored(ctx, sim.URL(), before+total, 2*time.Minute)
	if err != nil {
		return relayRun{}, load.Percentiles{}, err
	}
	sat := relayRun{sustained: float64(total) / end.Sub(start).Seconds()}
	lo := l.fixedRate(relays[0].URL() + "/webhooks/" + vendor)
	lo.Rate = 1000
	rep, err := load.Run(ctx, lo)
	if err != nil {
		return relayRun{}, load.Percentiles{}, err
	}
	return sat, rep.Latency, nil
}

// database makes a new database on the cluster and returns its DSN.
func database(ctx context.Context, c *pgtest.Cluster, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://relay@127.0.0.1:%d/%s?sslmode=disable", c.Port, name), nil
}
