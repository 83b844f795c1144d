package outbox

import (
	"errors"
	"time"
)

// Outbox is what the relay asks of its durable queue, whatever keeps it: a webhook's jobs and its event id stored
// in one durable commit before the vendor gets its 200 (Accept), each destination's jobs read oldest first a
// window at a time (Next), the marks of uploads in flight that survive a crash (MarkSending, InDoubt,
// ClearSending), delivered jobs removed (Done), failed tries recorded (Update), dead letters kept with why and
// revived (Kill, DeadLetters, Revive), event ids forgotten after the dedupe window (Prune), and counts. Store (a
// bbolt file) is the embedded driver; package outboxtest holds every driver to it.
type Outbox interface {
	Accept(source, eventID string, jobs []Job) (duplicate bool, err error)
	Next(destination string, held func(id uint64) bool, limit int) (jobs []Job, more bool, err error)
	Done(jobs []Job) error
	Update(jobs []Job) error
	Kill(dead []DeadLetter) error
	MarkSending(ids []uint64) error
	InDoubt() ([]Job, error)
	ClearSending(ids []uint64) error
	DeadLetters() ([]DeadLetter, error)
	Revive(id uint64) (Job, error)
	Prune(before time.Time) (int, error)
	Counts() (Counts, error)
	Pending() ([]Job, error)
	PendingFor(source string, eventIDs []string) (int, error)
	PendingCount() int
	PendingByDestination() map[string]int
	// Where names the outbox for logs and errors (a file; never a credential).
	Where() string
	Close() error
}

var _ Outbox = (*Store)(nil)

// Where is the outbox file.
func (s *Store) Where() string { return s.Path() }

// SealedJob is a job as every driver stores it: its JSON sealed with its id (encode.go's seal), so that damage
// to its bytes is caught wherever it is kept.
func SealedJob(j *Job) []byte { return seal(j.ID, encodeJob(j)) }

// EncodeJob is a job's JSON without its seal, for a driver that learns the id only as it stores the job.
func EncodeJob(j *Job) []byte { return encodeJob(j) }

// OpenJob reads a job EncodeJob or SealedJob stored, checking the seal when there is one.
func OpenJob(id uint64, raw []byte) (Job, error) { return decodeJob(id, raw, false) }

// Errors a shared outbox's Next gives instead of jobs. ErrLeased: another replica delivers this destination now
// (its lease is live); try again later. ErrInDoubt: some of its jobs were in an upload on a replica that died;
// settle them (InDoubt) before the jobs after them are sent, so that each user's order holds.
var (
	ErrLeased  = errors.New("another replica delivers this destination")
	ErrInDoubt = errors.New("jobs of this destination were in flight on a replica that stopped")
)

// Shared is implemented by an outbox that several relays use at once: jobs are handed out only through Next
// (under a lease per destination), never straight from Accept, and a queue looks again now and then for jobs
// another replica accepted.
type Shared interface {
	Shared() bool
}

// SharedBackoff is implemented by a shared outbox that keeps the replicas' backoff per CleverTap account: after a
// 429 or 5xx one replica sets it, and every replica sending to that account waits it out (ten replicas must not
// each hammer a CleverTap that said slow down).
type SharedBackoff interface {
	SetBackoff(account string, until time.Time) error
	Backoff(account string) (time.Time, error)
}

// Lease is which replica delivers a destination, until when (unless renewed).
type Lease struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// Replicated is implemented by a shared outbox: this relay's name among the replicas, and who holds which
// destination now (for /admin/status and the inspector's relay view).
type Replicated interface {
	Replica() string
	Leases() (map[string]Lease, error)
}

// Unmarker is implemented by a shared outbox: a replica clears its own marks on jobs it will not send after all.
type Unmarker interface {
	Unmark(ids []uint64) error
}
