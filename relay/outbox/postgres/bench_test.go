package postgres

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// BenchmarkAccept stores webhooks of one job each from 256 senders, as the relay's intake does under load.
func BenchmarkAccept(b *testing.B) {
	s := open(b, database(b))
	defer s.Close()
	var seq atomic.Int64
	b.SetParallelism(max(1, 256/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			job := outbox.Job{Source: "revenuecat", EventType: "RENEWAL", Message: relay.Message{Destination: "d",
				Kind: relay.KindUpload, Payload: []byte(`{"d":[{"identity":"u","type":"event","evtName":"x"}]}`)}}
			if dup, err := s.Accept("revenuecat", fmt.Sprint("e", n), []outbox.Job{job}); dup || err != nil {
				b.Errorf("accept %d: duplicate %v, %v", n, dup, err)
				return
			}
		}
	})
}
