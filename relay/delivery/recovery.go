package delivery

import (
	"fmt"

	"github.com/ctharness/ctharness/relay/outbox"
)

// Crash recovery: jobs marked as in an upload when the relay stopped without shutting down (kill -9, power loss)
// may or may not be at CleverTap, whose upload API has no idempotency key; Settings.AfterCrash decides.

// InDoubtReason is the dead letters' reason for jobs held after an unclean stop.
const InDoubtReason = "in flight when the relay stopped without shutting down (after_crash: hold): CleverTap may " +
	"already have it; " +
	"check the account, then POST /admin/deadletters/{id}/retry if it is missing"

// recoverInDoubt finds the pending jobs that were in an upload at an unclean stop, applies the after_crash policy
// and returns the jobs to send.
func (d *Dispatcher) recoverInDoubt(pending []outbox.Job) ([]outbox.Job, error) {
	inDoubt, err := d.store.InDoubt()
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	if len(inDoubt) == 0 {
		return pending, nil
	}
	if pending, err = d.settleInDoubt(pending, inDoubt); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return pending, nil
}

// settleInDoubt applies the after_crash policy to the jobs that were in an upload at an unclean stop and returns
// the jobs to send.
func (d *Dispatcher) settleInDoubt(pending []outbox.Job, inDoubt map[uint64]bool) ([]outbox.Job, error) {
	var rest []outbox.Job
	var held []outbox.DeadLetter
	var ids []uint64
	for _, j := range pending {
		if !inDoubt[j.ID] {
			rest = append(rest, j)
			continue
		}
		ids = append(ids, j.ID)
		if d.settings.AfterCrash == AfterCrashHold {
			held = append(held, outbox.DeadLetter{Job: j, Reason: InDoubtReason})
		} else {
			rest = append(rest, j)
		}
	}
	if d.settings.AfterCrash == AfterCrashHold {
		d.log.Warn(
			"the last run stopped uncleanly during uploads; their records may or may not have reached CleverTap: held in the "+
				"dead letters, not resent",
			"records", len(held), "after_crash", AfterCrashHold)
		return rest, d.store.Kill(held)
	}
	d.log.Warn("the last run stopped uncleanly during uploads; resending their records, some may arrive twice",
		"records", len(ids), "after_crash", AfterCrashResend)
	return rest, d.store.ClearSending(ids)
}
