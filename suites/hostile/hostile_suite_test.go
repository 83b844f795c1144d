// The hostile-input suite: every relay and simulator route fed what no honest sender sends. Each entry expects a
// clear 4xx naming what was expected, and nothing stored: the relay's outbox counts (accepted ids, jobs, dead
// letters) and the fake's record count are the same before and after.
package hostile_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
	"github.com/ctharness/ctharness/simulator/sources/purchasely"
	"github.com/ctharness/ctharness/simulator/sources/revenuecat"
)

func TestHostile(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "hostile input", Label("hostile"))
}

var st *harness.Stack

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	// the default config with short timeouts, so that slow and silent senders are cut within the spec
	cfg := config.Default()
	cfg.Intake.ReadTimeout, cfg.Intake.IdleTimeout = 500*time.Millisecond, 500*time.Millisecond
	st, err = harness.StartInProcess(context.Background(), harness.Options{Relay: &cfg})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(st.Close)
})

// hostile is one request and the answer expected.
type hostile struct {
	method, path string
	header       map[string]string
	body         []byte
	status       int
	says         string // part of the answer's text
}

// stored is what the stack has kept: the relay's outbox counts and the fake's records.
func stored() string {
	relay, err := adminclient.New(st.RelayURL, st.RelayAdminToken).Status(context.Background())
	Expect(err).NotTo(HaveOccurred())
	var sim struct {
		Events, EventsDropped, Profiles int
	}
	get(st.SimulatorURL+"/_sim/health", &sim)
	return fmt.Sprintf("outbox %+v, fake %+v", relay.Outbox, sim)
}

func get(url string, v any) {
	resp, err := http.Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(json.NewDecoder(resp.Body).Decode(v)).To(Succeed())
}

func send(h hostile) {
	before := stored()
	base := st.RelayURL
	if strings.HasPrefix(h.path, "/_sim") || strings.HasPrefix(h.path, "/eu1") || strings.HasPrefix(h.path, "/piano") {
		base = st.SimulatorURL
	}
	req, err := http.NewRequest(h.method, base+h.path, bytes.NewReader(h.body))
	Expect(err).NotTo(HaveOccurred())
	for k, v := range h.header {
		req.Header.Set(k, v)
	}
	if host := h.header["Host"]; host != "" {
		req.Host = host // what a page on that name sends once the name resolves here
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(h.status), "answer: %s", body)
	Expect(string(body)).To(ContainSubstring(h.says))
	Expect(stored()).To(Equal(before), "nothing stored")
}

var (
	rcAuth = map[string]string{"Content-Type": "application/json", "Authorization": "Bearer sim-revenuecat"}
	afAuth = map[string]string{"Content-Type": "application/json", "Authorization": "sim-appsflyer"}
	ctAuth = map[string]string{"Content-Type": "application/json", "X-CleverTap-Account-Id": "SIM-EU1-0001",
		"X-CleverTap-Passcode": "sim-eu1-pass"}
)

// admin is the header of the relay's admin token, and the type every admin state change says.
func admin() map[string]string {
	return map[string]string{"Authorization": "Bearer " + st.RelayAdminToken, "Content-Type": "application/json"}
}

// jsonType is what the simulator's admin API asks of a state change.
var jsonType = map[string]string{"Content-Type": "application/json"}

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range h {
		out[a] = b
	}
	if v == "" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func rcBody() []byte {
	w, err := revenuecat.Emit("RENEWAL", revenuecat.Single{Single: sources.Single{User: lifecycle.User{
		AppUserID: fmt.Sprintf("hostile-%d", time.Now().UnixNano())}}})
	Expect(err).NotTo(HaveOccurred())
	return w.Body
}

func pyBody() []byte {
	w, err := purchasely.Emit("SUBSCRIPTION_STARTED",
		purchasely.Single{Single: sources.Single{User: lifecycle.User{
			AppUserID: fmt.Sprintf("hostile-%d", time.Now().UnixNano()), CleverTapID: "ct-hostile"}}})
	Expect(err).NotTo(HaveOccurred())
	return w.Body
}

// pySigned is a Purchasely request signed with secret at a time.
func pySigned(secret string, at time.Time) (map[string]string, []byte) {
	body := pyBody()
	h := http.Header{}
	purchasely.Policy(secret, false).Sign(h, body, at)
	out := map[string]string{"Content-Type": "application/json"}
	for k := range h {
		out[k] = h.Get(k)
	}
	return out, body
}

func nested(depth int) []byte {
	return []byte(`{"api_version":"1.0","event":` + strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`,
		depth) + `}`)
}

var huge = []byte(`{"api_version":"1.0","event":{"id":"x","padding":"` + strings.Repeat("x", 2<<20) + `"}}`)
var longHeader = strings.Repeat("h", 100<<10)

var _ = Describe("every route refuses hostile input with a clear 4xx and stores nothing", func() {
	DescribeTable("relay: RevenueCat webhooks", func(h func() hostile) { send(h()) },
		Entry("empty body", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, nil, 400, "expected a JSON object body, got an empty body"}
		}),
		Entry("truncated body", func() hostile {
			b := rcBody()
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, b[:len(b)/2], 400, "invalid JSON"}
		}),
		Entry("huge body", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, huge, 413, "body larger than 1048576 bytes"}
		}),
		Entry("wrong content type", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", with(rcAuth, "Content-Type", "text/plain"), rcBody(), 415,
				`expected Content-Type application/json, got \"text/plain\"`}
		}),
		Entry("form content type", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", with(rcAuth, "Content-Type", "application/x-www-form-urlencoded"),
				[]byte("a=b"), 415, "expected Content-Type application/json"}
		}),
		Entry("deep nesting", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, nested(1000), 400,
				"expected at most 32 levels of nesting, got more at byte"}
		}),
		Entry("invalid UTF-8", func() hostile {
			b := bytes.Replace(rcBody(), []byte(`"RENEWAL"`), []byte("\"RENEW\xff\xfeAL\""), 1)
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, b, 400,
				"expected UTF-8 JSON, got an invalid UTF-8 sequence at byte"}
		}),
		Entry("duplicate keys", func() hostile {
			b := bytes.Replace(rcBody(), []byte(`"type":"RENEWAL"`), []byte(`"type":"RENEWAL","type":"TEST"`), 1)
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, b, 400,
				`expected each key once per object, got \"type\" more than once in event`}
		}),
		Entry("a number JSON does not allow, in a field the mapping does not read", func() hostile {
			b := bytes.Replace(rcBody(), []byte(`"type":"RENEWAL"`), []byte(`"type":"RENEWAL","not_read":1.2.3`), 1)
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, b, 400, "expected a JSON object, got invalid JSON"}
		}),
		Entry("a JSON array", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, []byte(`[{"event":{}}]`), 400,
				"expected a JSON object, got a JSON array"}
		}),
		Entry("wrong field type", func() hostile {
			b := bytes.Replace(rcBody(), []byte(`"type":"RENEWAL"`), []byte(`"type":42`), 1)
			return hostile{"POST", "/webhooks/revenuecat", rcAuth, b, 400, "type: expected a string, got number 42"}
		}),
		Entry("missing Authorization", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", with(rcAuth, "Authorization", ""), rcBody(), 401,
				"expected the Authorization header"}
		}),
		Entry("wrong Authorization", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", with(rcAuth, "Authorization", "Bearer guess"), rcBody(), 401,
				"does not match"}
		}),
		Entry("oversize header", func() hostile {
			return hostile{"POST", "/webhooks/revenuecat", with(rcAuth, "X-Padding", longHeader), rcBody(), 431, ""}
		}),
		Entry("wrong method", func() hostile {
			return hostile{"GET", "/webhooks/revenuecat", nil, nil, 405, "GET is not allowed on /webhooks/revenuecat"}
		}),
	)

	DescribeTable("relay: Purchasely webhooks", func(h func() hostile) { send(h()) },
		Entry("missing signature", func() hostile {
			return hostile{"POST", "/webhooks/purchasely", map[string]string{"Content-Type": "application/json"}, pyBody(), 401,
				"X-PURCHASELY"}
		}),
		Entry("wrong signature", func() hostile {
			h, b := pySigned("not-the-secret", time.Now())
			return hostile{"POST", "/webhooks/purchasely", h, b, 401, "X-PURCHASELY-REQUEST-SIGNATURE does not match"}
		}),
		Entry("stale timestamp (a replay of an old request)", func() hostile {
			h, b := pySigned("sim-purchasely", time.Now().Add(-time.Hour))
			return hostile{"POST", "/webhooks/purchasely", h, b, 401, "from this relay's clock; the replay window is 5m0s"}
		}),
		Entry("future timestamp", func() hostile {
			h, b := pySigned("sim-purchasely", time.Now().Add(time.Hour))
			return hostile{"POST", "/webhooks/purchasely", h, b, 401, "from this relay's clock; the replay window is 5m0s"}
		}),
		Entry("body changed after signing", func() hostile {
			h, b := pySigned("sim-purchasely", time.Now())
			return hostile{"POST", "/webhooks/purchasely", h, bytes.Replace(b, []byte("SUBSCRIPTION_STARTED"),
				[]byte("SUBSCRIPTION_EXPIRED"), 1), 401, "X-PURCHASELY-REQUEST-SIGNATURE does not match"}
		}),
		Entry("signed, but duplicate keys", func() hostile {
			body := []byte(`{"event_name":"SUBSCRIPTION_STARTED","event_name":"SUBSCRIPTION_EXPIRED","event_id":"e-dup"}`)
			hd := http.Header{}
			purchasely.Policy("sim-purchasely", false).Sign(hd, body, time.Now())
			h := map[string]string{"Content-Type": "application/json"}
			for k := range hd {
				h[k] = hd.Get(k)
			}
			return hostile{"POST", "/webhooks/purchasely", h, body, 400, `\"event_name\" more than once`}
		}),
	)

	DescribeTable("relay: AppsFlyer postbacks and the admin routes", func(h func() hostile) { send(h()) },
		Entry("missing token", func() hostile {
			return hostile{"POST", "/webhooks/appsflyer", with(afAuth, "Authorization", ""),
				[]byte(`{"event_name":"af_subscribe"}`), 401, "token"}
		}),
		Entry("wrong token", func() hostile {
			return hostile{"POST", "/webhooks/appsflyer", with(afAuth, "Authorization", "guess"),
				[]byte(`{"event_name":"af_subscribe"}`), 401, "token"}
		}),
		Entry("empty body", func() hostile {
			return hostile{"POST", "/webhooks/appsflyer", afAuth, []byte("  "), 400, "got an empty body"}
		}),
		Entry("deep nesting", func() hostile {
			return hostile{"POST", "/webhooks/appsflyer", afAuth, []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)),
				400, "expected at most 32 levels of nesting, got more at byte 32"}
		}),
		Entry("dead letter id not a number", func() hostile {
			return hostile{"POST", "/admin/deadletters/abc/retry", admin(), nil, 400,
				`expected a numeric dead letter id, got \"abc\"`}
		}),
		Entry("unknown dead letter", func() hostile {
			return hostile{"POST", "/admin/deadletters/999999/retry", admin(), nil, 404, "no dead letter 999999"}
		}),
		Entry("a stranger lists the dead letters", func() hostile {
			return hostile{"GET", "/admin/deadletters", nil, nil, 401, "the admin routes need the admin token"}
		}),
		Entry("a stranger retries a dead letter", func() hostile {
			return hostile{"POST", "/admin/deadletters/1/retry", with(jsonType, "Authorization", "Bearer guess"), nil,
				401, "the admin routes need the admin token"}
		}),
		Entry("a page on a rebound name reads the dead letters with the token", func() hostile {
			return hostile{"GET", "/admin/deadletters", with(admin(), "Host", "attacker.example"), nil, 403,
				"--allowed-hosts attacker.example"}
		}),
		Entry("a form on another site retries a dead letter", func() hostile {
			return hostile{"POST", "/admin/deadletters/1/retry", with(admin(), "Content-Type", "text/plain"), nil,
				415, "expected Content-Type: application/json"}
		}),
		Entry("a stranger reads the status", func() hostile {
			return hostile{"GET", "/admin/status", map[string]string{"Authorization": st.RelayAdminToken}, nil, 401,
				"the admin routes need the admin token"}
		}),
		Entry("unknown route", func() hostile {
			return hostile{"POST", "/webhooks/stripe", afAuth, []byte(`{}`), 404, "no route POST /webhooks/stripe"}
		}),
	)

	DescribeTable("simulator: the CleverTap API answers as CleverTap does", func(h func() hostile) { send(h()) },
		Entry("empty upload", func() hostile {
			return hostile{"POST", "/eu1/1/upload", ctAuth, nil, 400, `"error":"Malformed request"`}
		}),
		Entry("truncated upload", func() hostile {
			return hostile{"POST", "/eu1/1/upload", ctAuth, []byte(`{"d":[{"type":"event","identity":"u"`), 400,
				`"error":"Malformed request"`}
		}),
		Entry("upload not UTF-8", func() hostile {
			return hostile{"POST", "/eu1/1/upload", ctAuth, []byte("\xff\xfe{}"), 400, `"error":"Malformed request"`}
		}),
		Entry("upload deeply nested", func() hostile {
			return hostile{"POST", "/eu1/1/upload", ctAuth, []byte(`{"d":` + strings.Repeat("[", 5000) + strings.Repeat("]",
				5000) + `}`), 400, `"error":"Malformed request"`}
		}),
		Entry("upload without passcode", func() hostile {
			return hostile{"POST", "/eu1/1/upload", with(ctAuth, "X-CleverTap-Passcode", ""), []byte(`{"d":[]}`), 401,
				`"code":401`}
		}),
		Entry("upload with a wrong passcode", func() hostile {
			return hostile{"POST", "/eu1/1/upload", with(ctAuth, "X-CleverTap-Passcode", "guess"), []byte(`{"d":[]}`), 401,
				`"code":401`}
		}),
		Entry("oversize header", func() hostile {
			return hostile{"POST", "/eu1/1/upload", with(ctAuth, "X-Padding", longHeader), []byte(`{"d":[]}`), 431, ""}
		}),
	)

	DescribeTable("simulator: the admin API and the Piano collector", func(h func() hostile) { send(h()) },
		Entry("wait with a body that is not JSON", func() hostile {
			return hostile{"POST", "/_sim/wait", jsonType, []byte("x"), 400,
				"wait: expected a JSON object of the documented fields"}
		}),
		Entry("account truncated", func() hostile {
			return hostile{"POST", "/_sim/accounts", jsonType, []byte(`{"id":`), 400,
				"account: expected a JSON object of the documented fields"}
		}),
		Entry("fault with an unknown action", func() hostile {
			return hostile{"POST", "/_sim/faults", jsonType, []byte(`{"action":"explode"}`), 400,
				`expected one of respond, delay, reset, malformed, got \"explode\"`}
		}),
		Entry("a page on a rebound name reads the journal", func() hostile {
			return hostile{"GET", "/_sim/requests", map[string]string{"Host": "attacker.example:8081"}, nil, 403,
				"--allowed-hosts attacker.example"}
		}),
		Entry("a form on another site adds a fault", func() hostile {
			return hostile{"POST", "/_sim/faults", map[string]string{"Content-Type": "text/plain"},
				[]byte(`{"action":"respond","status":503}`), 415, "expected Content-Type: application/json"}
		}),
		Entry("a fetch from another site wipes the journal", func() hostile {
			return hostile{"POST", "/_sim/reset", with(jsonType, "Origin", "https://attacker.example"), nil, 403,
				`Origin \"https://attacker.example\"`}
		}),
		Entry("Piano event that is not JSON", func() hostile {
			return hostile{"POST", "/piano/event?s=100001", map[string]string{"Content-Type": "text/plain"}, []byte("x"), 400,
				"expected a body"}
		}),
	)

	It("acknowledges a replayed event as a duplicate (vendors must stop retrying) and stores it once", func() {
		h, b := pySigned("sim-purchasely", time.Now())
		post := func() (int, string) {
			req, _ := http.NewRequest(http.MethodPost, st.RelayURL+"/webhooks/purchasely", bytes.NewReader(b))
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		status, body := post()
		Expect(status).To(Equal(200), body)
		Expect(body).To(ContainSubstring(`"status":"accepted"`))
		// the first one's records reach the fake (CleverTap and Piano) before the count is taken
		Eventually(func() int {
			s, err := adminclient.New(st.RelayURL, st.RelayAdminToken).Status(context.Background())
			Expect(err).NotTo(HaveOccurred())
			return s.Outbox.Pending
		}).Should(BeZero())
		before := stored()
		status, body = post()
		Expect(status).To(Equal(200), body)
		Expect(body).To(ContainSubstring(`"status":"duplicate"`))
		Expect(stored()).To(Equal(before), "the replay stored nothing")
	})

	It("refuses a huge announced body at once, before any 100 Continue, on the relay and the fake", func() {
		for _, c := range []struct{ url, path, header string }{
			{st.RelayURL, "/webhooks/revenuecat", "Authorization: Bearer sim-revenuecat\r\n"},
			{st.SimulatorURL, "/eu1/1/upload", "X-CleverTap-Account-Id: SIM-EU1-0001\r\nX-CleverTap-Passcode: sim-eu1-pass\r\n"},
		} {
			before := stored()
			conn, err := net.Dial("tcp", strings.TrimPrefix(c.url, "http://"))
			Expect(err).NotTo(HaveOccurred())
			_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"+
				"Expect: 100-continue\r\nContent-Length: 2000000000\r\n\r\n", c.path, c.header)
			Expect(err).NotTo(HaveOccurred())
			Expect(conn.SetReadDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
			line, err := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			Expect(err).NotTo(HaveOccurred(), c.path)
			Expect(line).To(HavePrefix("HTTP/1.1 413"), c.path)
			Expect(stored()).To(Equal(before), "nothing stored")
		}
	})

	It("refuses an ambiguous credential: two Authorization headers", func() {
		before := stored()
		req, _ := http.NewRequest(http.MethodPost, st.RelayURL+"/webhooks/revenuecat", strings.NewReader(`{}`))
		req.Header.Add("Authorization", "Bearer sim-revenuecat")
		req.Header.Add("Authorization", "Bearer guess")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(string(body)).To(ContainSubstring("expected one Authorization header, got 2"))
		Expect(stored()).To(Equal(before), "nothing stored")
	})

	It("refuses a request that announces its body both ways (request smuggling) and closes, on both servers", func() {
		for _, c := range []struct{ url, path, header string }{
			{st.RelayURL, "/webhooks/revenuecat", "Authorization: Bearer sim-revenuecat\r\n"},
			{st.SimulatorURL, "/eu1/1/upload", "X-CleverTap-Account-Id: SIM-EU1-0001\r\nX-CleverTap-Passcode: sim-eu1-pass\r\n"},
		} {
			before := stored()
			conn, err := net.Dial("tcp", strings.TrimPrefix(c.url, "http://"))
			Expect(err).NotTo(HaveOccurred())
			_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"+
				"Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /_sim/health HTTP/1.1\r\nHost: x\r\n\r\n",
				c.path, c.header)
			Expect(err).NotTo(HaveOccurred())
			Expect(conn.SetReadDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
			all, _ := io.ReadAll(conn)
			conn.Close()
			Expect(string(all)).To(HavePrefix("HTTP/1.1 400"), c.path)
			Expect(strings.Count(string(all), "HTTP/1.1")).To(Equal(1), "the smuggled request was not answered")
			Expect(stored()).To(Equal(before), "nothing stored")
		}
	})

	It("cuts slow bodies, endless chunked bodies and idle connections, and still serves", func() {
		addr := strings.TrimPrefix(st.RelayURL, "http://")
		open := func(request string) net.Conn {
			conn, err := net.Dial("tcp", addr)
			Expect(err).NotTo(HaveOccurred())
			_, err = io.WriteString(conn, request)
			Expect(err).NotTo(HaveOccurred())
			return conn
		}
		head := "POST /webhooks/revenuecat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sim-revenuecat\r\n" +
			"Content-Type: application/json\r\n"
		var conns []net.Conn
		for range 20 {
			conns = append(conns,
				open(head+"Content-Length: 1000\r\n\r\n{\"api"),                                 // a body that never ends
				open(head+"Transfer-Encoding: chunked\r\n\r\n100\r\n"+strings.Repeat("x", 100)), // chunks that stop
				open("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))                                // then silence
		}
		before := stored()
		for _, c := range conns {
			Expect(c.SetReadDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
			_, err := io.ReadAll(c) // the server's answer, if any, then its close
			Expect(err).NotTo(HaveOccurred(), "the relay closed the connection within its timeouts")
			c.Close()
		}
		Expect(stored()).To(Equal(before), "nothing stored")
		resp, err := http.Get(st.RelayURL + "/healthz")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
	})

	It("refuses a body of ninety thousand keys (just under 1 MiB) with one repeated, at once", func() {
		var b strings.Builder
		b.WriteString(`{"api_version":"1.0","event":{}`)
		for i := range 90_000 {
			fmt.Fprintf(&b, `,"k%d":1`, i)
		}
		b.WriteString(`,"k7":2}`)
		send(hostile{"POST", "/webhooks/revenuecat", rcAuth, []byte(b.String()), 400,
			`got \"k7\" more than once in the top-level object`})
	})

	It("lets no key of AppsFlyer's event_value set the postback's own parameters", func() {
		cuid := fmt.Sprintf("hostile-%d", time.Now().UnixNano())
		body := fmt.Sprintf(`{"event_name":"af_subscribe","event_time":"2026-01-08 00:00:00.000","appsflyer_id":"1-%s",`+
			`"customer_user_id":%q,"media_source":"organic","event_value":"{\"device_identifier\":\"victim\"}"}`,
			cuid, cuid)
		req, _ := http.NewRequest(http.MethodPost, st.RelayURL+"/webhooks/appsflyer", strings.NewReader(body))
		for k, v := range afAuth {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(string(answer)).To(ContainSubstring("device_identifier name reserved parameters"))
		ct := clevertap.NewClient(st.SimulatorURL)
		events, err := ct.Wait(context.Background(), clevertap.WaitRequest{ObjectID: cuid, Count: 1, TimeoutMS: 5000})
		Expect(err).NotTo(HaveOccurred())
		Expect(events).To(HaveLen(1))
		victim, err := ct.Events(context.Background(), clevertap.EventFilter{ObjectID: "victim"})
		Expect(err).NotTo(HaveOccurred())
		Expect(victim).To(BeEmpty())
	})
})
