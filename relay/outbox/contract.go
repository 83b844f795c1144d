package outbox

import "time"

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
