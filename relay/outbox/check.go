package outbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Report is what Check found in an outbox file: what it holds that can be read, and what is damaged.
type Report struct {
	Path    string `json:"path"`
	Pending int    `json:"pending"`
	Dead    int    `json:"dead"`
	Seen    int    `json:"seen"`
	InDoubt int    `json:"in_doubt"`
	// Damage says what is wrong: damaged pages (what they held cannot be read) and entries that do not decode.
	Damage []string `json:"damage,omitempty"`
}

// OK reports whether the file is whole.
func (r Report) OK() bool { return len(r.Damage) == 0 }

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "outbox %s: %d pending jobs, %d dead letters, %d event ids remembered, %d uploads in doubt",
		r.Path, r.Pending, r.Dead, r.Seen, r.InDoubt)
	if r.OK() {
		b.WriteString("; no damage")
		return b.String()
	}
	fmt.Fprintf(&b, " readable; damaged (%d):", len(r.Damage))
	for i, d := range r.Damage {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... %d more", len(r.Damage)-i)
			break
		}
		b.WriteString("\n  " + d)
	}
	return b.String()
}

// contents is everything readable in an outbox file, by bucket.
type contents struct {
	report  Report
	jobs    []Job
	rawJobs map[uint64][]byte
	dead    []entry
	seen    []entry
	byTime  []entry
	sending []entry
	// jobsSequence is the jobs bucket's next-id counter.
	jobsSequence uint64
}

// Check reads an outbox file without bbolt (so a damaged file cannot crash it), walking every page it reaches and
// decoding every job and dead letter. An error means the file is not an outbox at all, or cannot be read.
func Check(path string) (Report, error) {
	c, err := read(path)
	return c.report, err
}

// readJobs decodes the jobs bucket's entries.
func (c *contents) readJobs(entries []entry, damage func(string, ...any)) {
	for _, e := range entries {
		if len(e.key) != 8 {
			damage("jobs: a key of %d bytes", len(e.key))
			continue
		}
		j, err := decodeJob(binary.BigEndian.Uint64(e.key), e.value)
		if err != nil {
			damage("%v", err)
			continue
		}
		c.jobs = append(c.jobs, j)
		c.rawJobs[j.ID] = e.value
	}
}

// checkQueue checks that every job is in its destination's queue.
func (c *contents) checkQueue(entries []entry, damage func(string, ...any)) {
	queued := map[uint64]bool{}
	for _, e := range entries {
		if len(e.key) < 9 {
			damage("queue: a key of %d bytes", len(e.key))
			continue
		}
		queued[binary.BigEndian.Uint64(e.key[len(e.key)-8:])] = true
	}
	for _, j := range c.jobs {
		if !queued[j.ID] && len(queued) > 0 {
			damage("job %d: missing from its destination's queue", j.ID)
		}
	}
}

func read(path string) (*contents, error) {
	c := &contents{report: Report{Path: path}, rawJobs: map[uint64][]byte{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	f, err := readRaw(data)
	if err != nil {
		return c, fmt.Errorf("outbox %s: %w", path, err)
	}
	damage := func(format string, args ...any) {
		c.report.Damage = append(c.report.Damage, fmt.Sprintf(format, args...))
	}
	if err := f.checkFreelist(); err != nil {
		damage("%v", err)
	}
	w := &walker{f: f, visited: map[uint64]bool{}}
	top := w.pageEntries(f.meta.root)
	bucket := func(name []byte) []entry {
		root, inline, found := w.bucket(top, string(name))
		if !found {
			if string(name) != string(queueBucket) { // older relays kept no destination index
				damage("bucket %s: missing", name)
			}
			return nil
		}
		var out []entry
		for _, e := range w.entries(root, inline) {
			if e.bucket {
				damage("bucket %s: a nested bucket %q where values belong", name, e.key)
				continue
			}
			out = append(out, e)
		}
		return out
	}
	for _, e := range top {
		if e.bucket && string(e.key) == string(jobsBucket) && len(e.value) >= bucketHeaderLen {
			c.jobsSequence = binary.LittleEndian.Uint64(e.value[8:])
		}
	}
	c.readJobs(bucket(jobsBucket), damage)
	for _, e := range bucket(deadBucket) {
		var d DeadLetter
		if err := json.Unmarshal(e.value, &d); err != nil {
			damage("dead letter %x: %v", e.key, err)
			continue
		}
		c.dead = append(c.dead, e)
	}
	c.seen, c.byTime, c.sending = bucket(seenBucket), bucket(seenByTimeBucket), bucket(sendingBucket)
	c.checkQueue(bucket(queueBucket), damage)
	for _, e := range c.sending {
		if len(e.key) == 8 && c.rawJobs[binary.BigEndian.Uint64(e.key)] != nil {
			c.report.InDoubt++
		}
	}
	for _, err := range w.damage {
		damage("%v", err)
	}
	c.report.Pending, c.report.Dead, c.report.Seen = len(c.jobs), len(c.dead), len(c.seen)
	return c, nil
}
