package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// UploadBody is a realistic upload: records RevenueCat-like events with seven properties each, for the default
// account's eu1 region.
func UploadBody(records int) []byte {
	var b strings.Builder
	b.WriteString(`{"d":[`)
	for i := 0; i < records; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"event","identity":"$RCAnonymousID:%032x","ts":%d,"evtName":"rc_renewal_event",`+
			`"evtData":{"amount":4.99,"currency":"USD","product_id":"monthly.sub.1","app_id":"1234567890",`+
			`"$email":"user%d@example.com","$clevertapId":"12345678-1234-1234-1234-%012d","store":"APP_STORE"}}`,
			i, 1700000000+i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// ingest posts uploads 1000-record bodies to url from `senders` connections and returns records/s. onTenth runs
// once at each tenth of the uploads answered, with the tenth (1 to 9).
func ingest(ctx context.Context, url string, uploads, senders int, onTenth func(int)) (float64, error) {
	const records = 1000
	body := UploadBody(records)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var (
		next     atomic.Int64
		answered atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(uploads) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
				req.Header.Set("X-CleverTap-Passcode", "sim-eu1-pass")
				resp, err := client.Do(req)
				if err == nil {
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"processed":1000`)) {
						err = fmt.Errorf("%s answered %d %.200s; expected 200 with 1000 records processed", url, resp.StatusCode, raw)
					}
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				if n := answered.Add(1); onTenth != nil && uploads >= 10 && n%int64(uploads/10) == 0 && n < int64(uploads) {
					onTenth(int(n / int64(uploads/10)))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(answered.Load()*records) / time.Since(start).Seconds(), ctx.Err()
}
