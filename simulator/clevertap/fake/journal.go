package fake

import (
	"encoding/json"
	"sync"

	"github.com/ctharness/ctharness/simulator/clevertap"

	"github.com/ctharness/ctharness/internal/broadcast"
	"github.com/ctharness/ctharness/internal/ring"
)

// maxJournaledResponse bounds the response body kept per entry; a fail answer for 1000 records echoes them all.
// maxJournaledRequest bounds the request body kept (the refused records are in the response anyway).
const (
	maxJournaledResponse = 64 << 10
	maxJournaledRequest  = 16 << 10
)

// journal is the bounded request log.
type journal struct {
	mu      sync.Mutex
	seq     uint64
	entries *ring.Ring[clevertap.JournalEntry]
	// feed hands each entry to the live streams (the inspector, simulator tail)
	feed *broadcast.Broadcaster[clevertap.JournalEntry]
}

// maxStreams bounds the live streams of the journal.
const maxStreams = 64

func newJournal(limit int, maxBytes int64) *journal {
	return &journal{entries: ring.New[clevertap.JournalEntry](limit).Budget(maxBytes, entrySize),
		feed: broadcast.New[clevertap.JournalEntry](maxStreams)}
}

// entrySize is about what an entry holds in memory: its texts and a fixed part for the rest.
func entrySize(e *clevertap.JournalEntry) int {
	n := 512 + len(e.Host) + len(e.Path) + len(e.Query) + len(e.RequestBody) + len(e.Response)
	for k, v := range e.RequestHeaders {
		n += len(k) + len(v) + 32
	}
	for _, d := range e.Diagnosis {
		n += len(d) + 16
	}
	if e.Records != nil {
		for _, u := range e.Records.Unprocessed {
			n += 64 + len(u.Error) + len(u.Diagnosis)
		}
		for _, w := range e.Records.Warnings {
			n += 32 + len(w.Warning)
		}
	}
	return n
}

func (j *journal) add(e clevertap.JournalEntry) {
	if len(e.Response) > maxJournaledResponse || !json.Valid(e.Response) {
		note, _ := json.Marshal(map[string]any{"truncated_or_not_json": true, "bytes": len(e.Response),
			"start": string(e.Response[:min(len(e.Response), 512)])})
		if len(e.Response) > 0 {
			e.Response = note
		}
	}
	j.mu.Lock()
	j.seq++
	e.Seq = j.seq
	j.entries.Push(e)
	j.feed.Publish(e) // under the lock: streams get entries in seq order
	j.mu.Unlock()
}

// find returns a page of the matching entries, and whether it left some out.
func (j *journal) find(f clevertap.JournalFilter) ([]clevertap.JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []clevertap.JournalEntry{}
	more := false
	keep := func(e *clevertap.JournalEntry) bool {
		if e.Seq <= f.SinceSeq || f.BeforeSeq > 0 && e.Seq >= f.BeforeSeq || !f.Matches(e) {
			return true
		}
		if f.Limit > 0 && len(out) == f.Limit {
			more = true
			return false
		}
		out = append(out, *e)
		return true
	}
	if f.Newest {
		j.entries.EachNewest(keep)
	} else {
		j.entries.Each(keep)
	}
	return out, more
}

// subscribe is a live stream of the entries journaled from now on (nil when the streams are at their limit).
func (j *journal) subscribe(buffer int) (<-chan clevertap.JournalEntry, func(), bool) {
	return j.feed.Subscribe(buffer)
}

func (j *journal) reset() {
	j.mu.Lock()
	j.entries.Clear()
	j.mu.Unlock()
}
