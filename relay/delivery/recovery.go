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

// recoverInDoubt finds the pending jobs that were in an upload at an unclean stop and applies the after_crash
// policy: held in the dead letters, or sent again.
func (d *Dispatcher) recoverInDoubt() error {
	inDoubt, err := d.store.InDoubt()
	if err != nil {
		return fmt.Errorf("reading the outbox %s: %w", d.store.Where(), err)
	}
	if len(inDoubt) == 0 {
		return nil
	}
	if d.settings.AfterCrash == AfterCrashHold {
		held := make([]outbox.DeadLetter, len(inDoubt))
		for i, j := range inDoubt {
			held[i] = outbox.DeadLetter{Job: j, Reason: InDoubtReason}
		}
		d.log.Warn("the last run stopped uncleanly during uploads; their records may or may not have reached "+
			"CleverTap: held in the dead letters, not resent", "records", len(held), "after_crash", AfterCrashHold)
		if err := d.store.Kill(held); err != nil {
			return fmt.Errorf("outbox %s: holding the uploads in doubt: %w", d.store.Where(), err)
		}
		return nil
	}
	ids := jobIDs(inDoubt)
	d.log.Warn("the last run stopped uncleanly during uploads; resending their records, some may arrive twice",
		"records", len(ids), "after_crash", AfterCrashResend)
	if err := d.store.ClearSending(ids); err != nil {
		return fmt.Errorf("outbox %s: clearing the marks of the uploads in doubt: %w", d.store.Where(), err)
	}
	return nil
}
