// Package metrics is the relay's Prometheus instrumentation: webhooks received by outcome, records delivered,
// retried and dead-lettered per destination, the queue depth, and the latency of acknowledgements and of
// requests to CleverTap and Piano. Each relay has its own registry, so several can run in one process.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors.
type Metrics struct {
	registry     *prometheus.Registry
	received     *prometheus.CounterVec
	ack          *prometheus.HistogramVec
	delivered    *prometheus.CounterVec
	retried      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	requests     *prometheus.HistogramVec
}

// New registers the collectors; depth reports the records queued or in flight per destination.
func New(depth func() map[string]int) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_webhooks_received_total",
			Help: "Webhooks received, by source and outcome (accepted, duplicate, skipped, unauthorized, bad_request, " +
				"too_large, unavailable)."},
			[]string{"source", "outcome"}),
		ack: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "relay_webhook_ack_seconds",
			Help: "Time from a webhook's arrival to its answer (durable store included).", Buckets: []float64{.0005, .001, .002,
				.005, .01, .02, .05, .1, .25, .5, 1}},
			[]string{"source"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_records_delivered_total",
			Help: "Records (upload records, attribution calls, Piano events) the destination accepted."},
			[]string{"destination"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_records_retried_total",
			Help: "Records put back for another try after a retryable failure."}, []string{"destination"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_records_dead_lettered_total",
			Help: "Records moved to the dead letters."}, []string{"destination"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "relay_upload_duration_seconds",
			Help: "Latency of requests to CleverTap and Piano, by destination and outcome (success, partial, retry, " +
				"rejected).",
			Buckets: prometheus.DefBuckets}, []string{"destination", "outcome"}),
	}
	queue := prometheus.NewDesc("relay_queue_depth", "Records waiting or in flight, by destination.",
		[]string{"destination"}, nil)
	m.registry.MustRegister(m.received, m.ack, m.delivered, m.retried, m.deadLettered, m.requests,
		depthCollector{desc: queue, depth: depth},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Received counts a webhook and observes its acknowledgement latency.
func (m *Metrics) Received(source, outcome string, took time.Duration) {
	m.received.WithLabelValues(source, outcome).Inc()
	m.ack.WithLabelValues(source).Observe(took.Seconds())
}

// Delivered implements delivery.Observer.
func (m *Metrics) Delivered(destination string, n int) {
	m.delivered.WithLabelValues(destination).Add(float64(n))
}

// Retried implements delivery.Observer.
func (m *Metrics) Retried(destination string, n int) {
	m.retried.WithLabelValues(destination).Add(float64(n))
}

// DeadLettered implements delivery.Observer.
func (m *Metrics) DeadLettered(destination string, n int) {
	m.deadLettered.WithLabelValues(destination).Add(float64(n))
}

// Request implements delivery.Observer.
func (m *Metrics) Request(destination, outcome string, took time.Duration) {
	m.requests.WithLabelValues(destination, outcome).Observe(took.Seconds())
}

type depthCollector struct {
	desc  *prometheus.Desc
	depth func() map[string]int
}

func (c depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c depthCollector) Collect(ch chan<- prometheus.Metric) {
	for dest, n := range c.depth() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), dest)
	}
}
