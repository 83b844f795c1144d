package piano

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/ctharness/ctharness/internal/broadcast"
	"github.com/ctharness/ctharness/internal/ring"
)

// Hit is one event the collector received.
type Hit struct {
	Seq        uint64          `json:"seq"`
	Site       string          `json:"site"`
	IDClient   string          `json:"idclient"`
	Path       string          `json:"path"`
	ReceivedAt time.Time       `json:"received_at"`
	RequestID  string          `json:"request_id"`
	Name       string          `json:"name"`
	Data       json.RawMessage `json:"data"`
	// Ignored events are accepted on the wire but dropped by Piano; Reason says why.
	Ignored bool   `json:"ignored,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Unexpected lists property keys that are not declared (Piano keeps them with status "Unexpected").
	Unexpected []string `json:"unexpected_properties,omitempty"`
}

// Request is one journaled call to the collector.
type Request struct {
	RequestID  string    `json:"request_id"`
	ReceivedAt time.Time `json:"received_at"`
	Method     string    `json:"method"`
	Host       string    `json:"host"`
	Path       string    `json:"path"`
	Site       string    `json:"site,omitempty"`
	Status     int       `json:"status"`
	Accepted   int       `json:"accepted"`
	Ignored    int       `json:"ignored"`
	Diagnosis  []string  `json:"diagnosis,omitempty"`
}

// Activity is one call to the collector with the hits it brought: what the live stream carries.
type Activity struct {
	Request Request `json:"request"`
	Hits    []Hit   `json:"hits"`
	// HitsOmitted counts the hits a bounded reader (the live stream) left out; /_sim/piano/events has them all.
	HitsOmitted int `json:"hits_omitted,omitempty"`
}

// store keeps the newest hits and journaled requests, bounded like the CleverTap fake's.
type store struct {
	mu      sync.Mutex
	seq     uint64
	hits    *ring.Ring[Hit]
	journal *ring.Ring[Request]
	feed    *broadcast.Broadcaster[Activity]
}

func newStore(limit, journalLimit int, journalBytes int64) *store {
	return &store{hits: ring.New[Hit](limit), journal: ring.New[Request](journalLimit).Budget(journalBytes,
		requestSize), feed: broadcast.New[Activity](64)}
}

// requestSize is about what a journaled request holds in memory.
func requestSize(r *Request) int {
	n := 256 + len(r.Host) + len(r.Path)
	for _, d := range r.Diagnosis {
		n += len(d) + 16
	}
	return n
}

func (s *store) record(req Request, hits []Hit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := make([]Hit, len(hits))
	for i, h := range hits {
		s.seq++
		h.Seq = s.seq
		s.hits.Push(h)
		kept[i] = h
	}
	s.journal.Push(req)
	s.feed.Publish(Activity{Request: req, Hits: kept})
}

// Subscribe is a live stream of the collector's calls from now on; the channel is closed when the reader falls
// more than buffer calls behind, or by cancel; ok is false at the limit of streams.
func (c *Collector) Subscribe(buffer int) (activity <-chan Activity, cancel func(), ok bool) {
	return c.store.feed.Subscribe(buffer)
}

// Hits returns what the collector received for a site ("" for all), without ignored events unless asked.
func (c *Collector) Hits(site string, includeIgnored bool) []Hit {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	out := []Hit{}
	c.store.hits.Each(func(h *Hit) bool {
		if (site == "" || h.Site == site) && (includeIgnored || !h.Ignored) {
			out = append(out, *h)
		}
		return true
	})
	return out
}

// Requests returns the collector's journal.
func (c *Collector) Requests() []Request {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	out := make([]Request, 0, c.store.journal.Len())
	c.store.journal.Each(func(r *Request) bool {
		out = append(out, *r)
		return true
	})
	return out
}

// Reset clears hits and journal; sites stay.
func (c *Collector) Reset() {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	c.store.hits.Clear()
	c.store.journal.Clear()
}
