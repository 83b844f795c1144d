package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// proxyFigures: the lint proxy's added latency (p50, p99) and throughput for 1000-record uploads, each against
// direct calls to the same upstream (the ingest baseline) in the same run, and its memory while capturing many
// small exchanges (the peak over all of them against the peak over the first tenth).
func (o Options) proxyFigures(ctx context.Context, work string) ([]Figure, error) {
	up, err := start(ctx, work, "proxy-upstream", o.Self, []string{"serve", "--handler", "ingest", "--listen",
		"{addr}"}, "/health")
	if err != nil {
		return nil, err
	}
	defer up.Close()
	px, err := start(ctx, work, "proxy", o.Simulator, []string{"proxy", "--listen", "{addr}", "--upstream",
		up.URL() + "/{region}", "--capture", filepath.Join(work, "proxy-capture.jsonl"), "--quiet"},
		"/_sim/proxy/report")
	if err != nil {
		return nil, err
	}
	defer px.Close()
	fmt.Fprintf(o.Progress, "bench: proxy latency, %d 1000-record uploads direct and through the proxy, "+
		"alternating\n", o.ProxyUploads)
	body := UploadBody(1000)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var direct, via []float64
	for range o.ProxyUploads {
		for _, target := range []struct {
			url string
			out *[]float64
		}{{up.URL(), &direct}, {px.URL(), &via}} {
			start := time.Now()
			if err := postUpload(ctx, client, target.url+"/eu1/1/upload", body); err != nil {
				return nil, err
			}
			*target.out = append(*target.out, ms(time.Since(start)))
		}
	}
	d50, d99, v50, v99 := percentile(direct, 0.5), percentile(direct, 0.99), percentile(via, 0.5),
		percentile(via, 0.99)
	fmt.Fprintf(o.Progress, "bench: proxy throughput, %d 1000-record uploads from 4 connections each way\n", o.Uploads)
	directRate, err := ingest(ctx, up.URL()+"/eu1/1/upload", o.Uploads, 4, nil)
	if err != nil {
		return nil, err
	}
	viaRate, err := ingest(ctx, px.URL()+"/eu1/1/upload", o.Uploads, 4, nil)
	if err != nil {
		return nil, err
	}
	figures := []Figure{
		{Name: "proxy latency p50, 1000-record upload", Unit: "ms", Measured: v50, Baseline: d50,
			BaselineName: "direct to the same upstream", Goal: "< 1 ms added", Met: v50-d50 < 1},
		{Name: "proxy latency p99, 1000-record upload", Unit: "ms", Measured: v99, Baseline: d99,
			BaselineName: "direct to the same upstream", Goal: "< 5 ms added", Met: v99-d99 < 5},
		{Name: "proxy throughput, 1000-record uploads", Unit: "records/s", Measured: viaRate, Baseline: directRate,
			BaselineName: "direct to the same upstream", Goal: ">= 0.8 of direct", Met: viaRate >= 0.8*directRate},
	}
	fmt.Fprintf(o.Progress, "bench: proxy memory, %d one-record exchanges captured\n", o.ProxyExchanges)
	tenth, all, err := smallExchanges(ctx, px, o.ProxyExchanges)
	if err != nil {
		return figures, err
	}
	return append(figures, Figure{Name: fmt.Sprintf("proxy anonymous RSS over %s exchanges, capturing",
		count(float64(o.ProxyExchanges))), Unit: "MiB", Measured: all, Baseline: tenth,
		BaselineName: "peak over the first tenth", Goal: "< 1.5x the first tenth (bounded)", Met: all < 1.5*tenth}), nil
}

// smallExchanges sends n one-record uploads through the proxy from 16 connections and returns its peak anonymous
// memory over the first tenth and over all of them.
func smallExchanges(ctx context.Context, px interface {
	URL() string
	Pid() int
}, n int) (tenth, all float64, err error) {
	const senders = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var mu sync.Mutex
	mem, firstTenth := sample(px.Pid()), 0.0
	var firstErr error
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n) && ctx.Err() == nil; i = next.Add(1) {
				// distinct records: a repeated one would only grow the duplicate window's count, not its memory
				body := fmt.Appendf(nil, `{"d":[{"type":"event","identity":"u%d","ts":%d,"evtName":"bench",`+
					`"evtData":{"w":%d}}]}`, i, 1700000000+i%1000000, w)
				if err := postUpload(ctx, client, px.URL()+"/eu1/1/upload", body); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				if i == int64(n/10) {
					mu.Lock()
					firstTenth, mem = mem.peak().Anon, sample(px.Pid())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	rest := mem.peak().Anon
	return firstTenth, max(firstTenth, rest), firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// postUpload posts an upload for the default eu1 account and wants an HTTP 200.
func postUpload(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
	req.Header.Set("X-CleverTap-Passcode", "sim-eu1-pass")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d %.200s; expected 200", url, res.StatusCode, raw)
	}
	return nil
}

// percentile is the p-th value of the sorted measures (nearest rank).
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(values))
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
