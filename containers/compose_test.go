package containers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/containers"
	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/load"
)

// composeProject runs docker-compose.yml's postgres profile under its own project name, on free host ports and
// with the images built from this tree, and takes it down (volumes too) when the spec ends.
type composeProject struct {
	name  string
	env   []string
	ports map[string]string
}

func (p *composeProject) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-p", p.name, "-f", "../docker-compose.yml",
		"--profile", "postgres"}, args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func startComposeProfile(ctx context.Context) *composeProject {
	if _, err := exec.LookPath("docker-compose"); err != nil {
		Skip("docker-compose is not installed: the compose profile spec needs it")
	}
	images := exec.CommandContext(ctx, "../scripts/debian-images")
	images.Env = append(os.Environ(), "TAG=containers")
	if out, err := images.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "needs Debian's postgresql and haproxy") {
			Skip(strings.TrimSpace(string(out)))
		}
		Fail(fmt.Sprintf("scripts/debian-images: %v\n%s", err, out))
	}
	p := &composeProject{name: fmt.Sprintf("ctharness-profile-%d", os.Getpid()), ports: map[string]string{},
		env: []string{"CTHARNESS_IMAGE=" + containers.Image, "CTHARNESS_POSTGRES_IMAGE=ctharness-postgres:containers",
			"CTHARNESS_LB_IMAGE=ctharness-lb:containers"}}
	for _, v := range []string{"SIMULATOR_PORT", "SIMULATOR_TLS_PORT", "RELAY_PORT", "RELAYS_PORT"} {
		addr, err := harness.FreeAddr()
		Expect(err).NotTo(HaveOccurred())
		_, port, _ := net.SplitHostPort(addr)
		p.ports[v] = port
		p.env = append(p.env, v+"="+port)
	}
	DeferCleanup(func(ctx SpecContext) {
		out, err := p.run(ctx, "down", "-v", "--remove-orphans")
		Expect(err).NotTo(HaveOccurred(), out)
	}, NodeTimeout(2*time.Minute))
	// up -d waits for each dependency's health check: PostgreSQL, the simulator, then both relays
	out, err := p.run(ctx, "up", "-d", "relays")
	if err != nil {
		logs, _ := p.run(context.Background(), "logs", "--tail", "30")
		Fail(fmt.Sprintf("docker-compose up: %v\n%s\n%s", err, out, logs))
	}
	return p
}

func (p *composeProject) url(port string) string { return "http://127.0.0.1:" + p.ports[port] }

var _ = Describe("docker-compose.yml's postgres profile", Label("postgres"), func() {
	It("takes webhooks on one port with two relays on one PostgreSQL outbox, and with one of them stopped; each "+
		"delivered once",
		func(ctx SpecContext) {
			p := startComposeProfile(ctx)
			relays := p.url("RELAYS_PORT")
			Eventually(func() (int, error) {
				res, err := http.Get(relays + "/readyz")
				if err != nil {
					return 0, err
				}
				res.Body.Close()
				return res.StatusCode, nil
			}).WithTimeout(30 * time.Second).Should(Equal(http.StatusOK))

			// both relays answer behind the one port, each under its own replica name, on the same database
			admin := adminclient.New(relays, "compose-dev-admin-token")
			replicas := map[string]bool{}
			for range 6 {
				s, err := admin.Status(ctx)
				Expect(err).NotTo(HaveOccurred())
				Expect(s.Store.Where).To(HavePrefix("postgres postgres:5432"))
				replicas[s.Store.Replica] = true
			}
			Expect(replicas).To(HaveLen(2), "round robin over relay-a and relay-b")

			rep, err := load.Run(ctx, load.Options{Source: "revenuecat", Target: relays + "/webhooks/revenuecat",
				Credential: harness.DefaultCredential("revenuecat"), Count: 1000, Concurrency: 16, Retry: true,
				Duration: time.Minute})
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Acked).To(Equal(1000), "every webhook acknowledged: %+v", rep)

			// one relay stopped: the other takes every webhook behind the same port, and its destinations
			out, err := p.run(ctx, "stop", "relay-a")
			Expect(err).NotTo(HaveOccurred(), out)
			rep, err = load.Run(ctx, load.Options{Source: "revenuecat", Target: relays + "/webhooks/revenuecat",
				Credential: harness.DefaultCredential("revenuecat"), Count: 500, Concurrency: 16, Retry: true,
				Duration: time.Minute})
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Acked).To(Equal(500), "every webhook acknowledged with relay-a stopped: %+v", rep)

			// over TLS to eu1.api.clevertap.com, the simulator inside the network: each user's one record, once
			sim := clevertap.NewClient(p.url("SIMULATOR_PORT"))
			Eventually(func() (int, error) {
				events, err := sim.Events(ctx, clevertap.EventFilter{Account: "SIM-EU1-0001"})
				return len(events), err
			}).WithTimeout(60 * time.Second).Should(Equal(1500))
			events, err := sim.Events(ctx, clevertap.EventFilter{Account: "SIM-EU1-0001"})
			Expect(err).NotTo(HaveOccurred())
			users := map[string]int{}
			for _, e := range events {
				var r struct {
					Identity string `json:"identity"`
				}
				Expect(json.Unmarshal(e.Record, &r)).To(Succeed())
				users[r.Identity]++
			}
			Expect(users).To(HaveLen(1500), "one record per webhook, none twice")
		}, SpecTimeout(5*time.Minute))
})
