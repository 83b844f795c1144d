package outbox_test

import (
	"testing"

	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/relay/outbox/outboxtest"
)

// The bbolt driver holds to the outbox's contract.
func TestTheBboltOutboxConforms(t *testing.T) {
	outboxtest.Run(t, func(t *testing.T) (outbox.Outbox, func() outbox.Outbox) {
		dir := t.TempDir()
		open := func() outbox.Outbox {
			s, err := outbox.Open(dir, outbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(), open
	})
}
