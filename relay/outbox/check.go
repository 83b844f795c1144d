package outbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
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

// contents is what an outbox file holds: its counts and damage, and, kept for a salvage, everything readable by
// bucket (the start-up check keeps none of it: it streams each bucket and matches the indexes by lookups, so its
// memory does not grow with the outbox).
type contents struct {
	report Report
	jobs   []jobRef
	// rawJobs holds the jobs' bytes when the caller keeps them (salvage); the start-up check does not.
	rawJobs map[uint64][]byte
	dead    []entry
	seen    []entry
	byTime  []entry
	sending []entry
	// jobsSequence is the jobs bucket's next-id counter.
	jobsSequence uint64
	// sealedFrom is the first job id due a seal (the largest id when the outbox predates seals).
	sealedFrom uint64
	// queueMissing: an older relay's outbox without the destination index; damagedJob: jobs that did not decode.
	queueMissing bool
	damagedJob   map[uint64]bool
}

// jobRef is what the check keeps of a job: enough to hold the index to it.
type jobRef struct {
	ID          uint64
	Destination string `json:"destination"`
}

// Check reads an outbox file without bbolt (so a damaged file cannot crash it), walking every page it reaches and
// decoding every job and dead letter. An error means the file is not an outbox at all, or cannot be read. It maps
// the file rather than reading it into memory and keeps only what it checks, so a relay starting on a large
// backlog does not hold it twice.
func Check(path string) (Report, error) {
	return readMapped(path, false, func(*contents) error { return nil })
}

// readMapped maps the file at path, reads it as readData does (keep: with the jobs' bytes) and calls use while it
// is still mapped: use copies what it keeps, since the bytes are gone once readMapped returns. Mapped, a file
// larger than memory is read through the page cache instead of into the process.
func readMapped(path string, keep bool, use func(*contents) error) (Report, error) {
	data, release, err := mapFile(path)
	if err != nil {
		return Report{Path: path}, err
	}
	defer release()
	rep := Report{Path: path}
	err = whileMapped(path, func() error {
		c, err := readData(path, data, keep)
		rep = c.report
		if err != nil {
			return err
		}
		return use(c)
	})
	return rep, err
}

// whileMapped runs read, which reads a mapped outbox file: a file cut short under the mapping faults on access,
// which becomes an error instead of a crash. Other panics are not caught.
func whileMapped(path string, read func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if _, fault := p.(interface{ Addr() uintptr }); !fault {
				panic(p)
			}
			err = fmt.Errorf("outbox %s changed while it was read: %v", path, p)
		}
	}()
	return read()
}

// mapFile maps a file read-only; release unmaps it. An empty file is an empty slice.
func mapFile(path string) (data []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("outbox %s: mapping it to read: %w", path, err)
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}

// clipKey bounds a damaged key in a report.
func clipKey(k []byte) string {
	if len(k) > 64 {
		return string(k[:64]) + "..."
	}
	return string(k)
}

// readFormat reads the jobs bucket's id counter and from which id on jobs are sealed.
func (c *contents) readFormat(top, format []entry) {
	for _, e := range top {
		if e.bucket && string(e.key) == string(jobsBucket) && len(e.value) >= bucketHeaderLen {
			c.jobsSequence = binary.LittleEndian.Uint64(e.value[8:])
		}
	}
	if len(format) > 0 {
		c.sealedFrom = 0 // due from the first job unless the bucket says otherwise
		for _, e := range format {
			if string(e.key) == string(sealedFromKey) && len(e.value) == 8 {
				c.sealedFrom = binary.BigEndian.Uint64(e.value)
			}
		}
	}
}

// readData reads an outbox file's bytes; keep keeps the jobs' bytes for a salvage.
func readData(path string, data []byte, keep bool) (*contents, error) {
	c := &contents{report: Report{Path: path}, damagedJob: map[uint64]bool{}, sealedFrom: ^uint64(0)}
	if keep {
		c.rawJobs = map[uint64][]byte{}
	}
	f, err := readRaw(data)
	if err != nil {
		return c, fmt.Errorf("outbox %s: %w", path, err)
	}
	damage := func(format string, args ...any) {
		c.report.Damage = append(c.report.Damage, fmt.Sprintf(format, args...))
	}
	for _, p := range f.metaProblems {
		damage("%s: bbolt reads the other meta page (transaction %d), so commits after it would be lost", p,
			f.meta.txid)
	}
	w := &walker{f: f, visited: map[uint64]bool{}}
	top := w.pageEntries(f.meta.root)
	type tree struct {
		root   uint64
		inline []byte
	}
	trees := map[string]tree{}
	for _, name := range buckets {
		root, inline, found := w.bucket(top, string(name))
		switch {
		case found:
			trees[string(name)] = tree{root, inline}
		case string(name) == string(queueBucket): // older relays kept no destination index
			c.queueMissing = true
		case string(name) == string(formatBucket): // nor seals
		default:
			damage("bucket %s: missing", name)
		}
	}
	each := func(name []byte, fn func(entry)) {
		t, found := trees[string(name)]
		if !found {
			return
		}
		w.each(t.root, t.inline, func(e entry) {
			if e.bucket {
				damage("bucket %s: a nested bucket %q where values belong", name, e.key)
				return
			}
			fn(e)
		})
	}
	// has looks a key up in a bucket's tree: the indexes are matched this way, neither held in memory
	has := func(name, key []byte) bool {
		t, found := trees[string(name)]
		if !found {
			return false
		}
		_, ok := w.lookup(t.root, t.inline, key)
		return ok
	}
	var format []entry
	each(formatBucket, func(e entry) { format = append(format, e) })
	c.readFormat(top, format)

	// jobs, each decoded and found in its destination's queue: delivery reads only the index, so a job missing
	// from it would wait forever
	each(jobsBucket, func(e entry) {
		if len(e.key) != 8 {
			damage("jobs: a key of %d bytes", len(e.key))
			return
		}
		id := binary.BigEndian.Uint64(e.key)
		j := jobRef{ID: id}
		err := unseal(id, e.value, id >= c.sealedFrom)
		fast := false
		if err == nil && hasSeal(e.value) { // the seal held: the bytes are as encodeJob wrote them
			j.Destination, fast = destinationOf(e.value)
		}
		if err == nil && !fast {
			if err = json.Unmarshal(e.value, &j); err != nil {
				err = fmt.Errorf("job %d: %w", id, err)
			}
		}
		if err != nil {
			c.damagedJob[id] = true
			damage("%v", err)
			return
		}
		c.report.Pending++
		if c.rawJobs != nil {
			c.jobs, c.rawJobs[id] = append(c.jobs, j), e.value
		}
		if !c.queueMissing && !has(queueBucket, queueKey(j.Destination, id)) {
			damage("job %d: missing from its destination's queue (it would never be delivered)", id)
		}
	})
	// and the other way: an entry without its job would stop its destination's queue
	each(queueBucket, func(e entry) {
		if len(e.key) < 9 || e.key[len(e.key)-9] != 0 {
			damage("queue: a damaged key %q", clipKey(e.key))
			return
		}
		if id := e.key[len(e.key)-8:]; !has(jobsBucket, id) && !c.damagedJob[binary.BigEndian.Uint64(id)] {
			damage("queue: job %d is queued but not stored", binary.BigEndian.Uint64(id))
		}
	})
	each(deadBucket, func(e entry) {
		var d DeadLetter
		if err := json.Unmarshal(e.value, &d); err != nil {
			damage("dead letter %x: %v", e.key, err)
			return
		}
		c.report.Dead++
		if c.rawJobs != nil {
			c.dead = append(c.dead, e)
		}
	})
	// the remembered event ids and their time index agree both ways: an id missing from one would let a
	// redelivered webhook through as new (a duplicate upload) or never be forgotten
	matched, stamped := 0, 0
	var key []byte
	each(seenBucket, func(e entry) {
		c.report.Seen++
		if c.rawJobs != nil {
			c.seen = append(c.seen, e)
		}
		if key = append(append(key[:0], e.value...), e.key...); len(e.value) != 8 || !has(seenByTimeBucket, key) {
			damage("seen: event id %q has no matching entry in seen_by_time", clipKey(e.key))
			return
		}
		matched++
	})
	each(seenByTimeBucket, func(e entry) {
		if c.rawJobs != nil {
			c.byTime = append(c.byTime, e)
		}
		if len(e.key) < 9 {
			damage("seen_by_time: a key of %d bytes", len(e.key))
			return
		}
		stamped++
	})
	if stamped > matched {
		damage("seen_by_time: %d entries have no matching event id in seen", stamped-matched)
	}
	each(sendingBucket, func(e entry) {
		if c.rawJobs != nil {
			c.sending = append(c.sending, e)
		}
		if len(e.key) == 8 && has(jobsBucket, e.key) && !c.damagedJob[binary.BigEndian.Uint64(e.key)] {
			c.report.InDoubt++
		}
	})
	for _, err := range w.damage {
		damage("%v", err)
	}
	if err := f.checkFreelist(w.visited); err != nil {
		damage("%v", err)
	}
	return c, nil
}
