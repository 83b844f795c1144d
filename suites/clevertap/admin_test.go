package clevertap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

var _ = Describe("GET|POST /attribution", Label("attribution"), func() {
	params := func(c clevertap.Account, extra string) string {
		q := url.Values{}
		q.Set("partner_name", "AppsFlyer")
		q.Set("event_type", "af_subscribe")
		q.Set("device_identifier", "__g"+strings.ReplaceAll(identity("dev"), "-", "_"))
		q.Set("utm_source", "facebook")
		q.Set("platform", "android")
		q.Set("af_revenue", "9.99")
		q.Set("account_id", c.ID)
		q.Set("account_token", c.Token)
		return q.Encode() + extra
	}

	It("stores one event per call, with the credentials left out", func(ctx SpecContext) {
		a := account("eu1")
		res := call(ctx, "GET", "api.clevertap.com", "/attribution?"+params(a, ""), clevertap.Credentials{}, "")
		Expect(res.Status).To(Equal(200))
		Expect(res.Body).To(Equal(`{"status":"success"}`))
		events, err := client.Events(ctx, clevertap.EventFilter{Account: a.ID, Name: "af_subscribe"})
		Expect(err).NotTo(HaveOccurred())
		Expect(events).NotTo(BeEmpty())
		rec := string(events[len(events)-1].Record)
		Expect(rec).To(ContainSubstring(`"af_revenue":"9.99"`))
		Expect(rec).NotTo(ContainSubstring(a.Token))
	})
	It("takes the parameters as a form POST too", func(ctx SpecContext) {
		a := account("sg1")
		req, _ := http.NewRequestWithContext(ctx, "POST", baseURL+"/sg1/attribution", strings.NewReader(params(a, "")))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(200))
	})
	DescribeTable("answers its own error bodies",
		func(ctx SpecContext, host string, edit func(url.Values), status int, wantBody string) {
			q, _ := url.ParseQuery(params(account("eu1"), ""))
			edit(q)
			res := call(ctx, "GET", host, "/attribution?"+q.Encode(), clevertap.Credentials{}, "")
			Expect(res.Status).To(Equal(status))
			Expect(res.Body).To(Equal(wantBody))
		},
		Entry("wrong token", "api.clevertap.com", func(q url.Values) { q.Set("account_token", "nope") }, 401,
			`{"status":"fail","error":"Invalid Account Info","code":401}`),
		Entry("no credentials", "api.clevertap.com", func(q url.Values) { q.Del("account_token"); q.Del("account_id") }, 401,
			`{"status":"fail","error":"Invalid Account Info","code":401}`),
		Entry("wrong region", "us1.api.clevertap.com", func(q url.Values) {}, 401,
			`{"status":"fail","error":"Invalid Account Info","code":401}`),
		Entry("partner not whitelisted", "api.clevertap.com", func(q url.Values) { q.Set("partner_name", "Nobody") }, 400,
			`{"status":"fail","error":"partner_name is not whitelisted","code":400}`),
		Entry("no utm_*", "api.clevertap.com", func(q url.Values) { q.Del("utm_source") }, 400,
			`{"status":"fail","error":"utm_source is missing","code":400}`),
		Entry("no device_identifier", "api.clevertap.com", func(q url.Values) { q.Del("device_identifier") }, 400,
			`{"status":"fail","error":"device_identifier is missing","code":400}`),
	)
})

var _ = Describe("admin API", Label("admin"), func() {
	It("filters events by account, identity, name, type and since", func(ctx SpecContext) {
		who := identity("filter")
		res := upload(ctx, "aps3", creds("aps3"), body(eventRecord(who, "a"), eventRecord(who, "b"),
			fmt.Sprintf(`{"type":"profile","identity":%q,"profileData":{"x":1}}`, who)))
		Expect(res.Body).To(Equal(`{"status":"success","processed":3,"unprocessed":[]}`))
		all, err := client.Events(ctx, clevertap.EventFilter{Account: account("aps3").ID, Identity: who})
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(HaveLen(3))
		Expect(all[0].Region).To(Equal(clevertap.Region("aps3")))
		Expect(all[0].RequestID).To(HavePrefix("sim-"))
		byName, _ := client.Events(ctx, clevertap.EventFilter{Identity: who, Name: "b"})
		Expect(byName).To(HaveLen(1))
		profiles, _ := client.Events(ctx, clevertap.EventFilter{Identity: who, Type: clevertap.TypeProfile})
		Expect(profiles).To(HaveLen(1))
		after, _ := client.Events(ctx, clevertap.EventFilter{Identity: who, SinceSeq: all[0].Seq})
		Expect(after).To(HaveLen(2))
		bad := call(ctx, "GET", "", "/_sim/events?since=yesterday", clevertap.Credentials{}, "")
		Expect(bad.Status).To(Equal(400))
		Expect(bad.Body).To(ContainSubstring(`since: expected an event seq number or an RFC 3339 time`))
	})

	It("journals every request with its per-record outcomes", func(ctx SpecContext) {
		c := freshAccount(ctx, "mec1", nil)
		upload(ctx, "mec1", c, body(eventRecord("u", "ok"),
			`{"type":"event","identity":"u","ts":1700000000000,"evtName":"x"}`))
		entries, err := client.Requests(ctx, clevertap.JournalFilter{Account: c.AccountID, Outcome: clevertap.OutcomePartial})
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(1))
		e := entries[0]
		Expect(e.Status).To(Equal(200))
		Expect(e.Endpoint).To(Equal("upload"))
		Expect(e.Records.Total).To(Equal(2))
		Expect(e.Records.Processed).To(Equal(1))
		Expect(e.Records.Unprocessed).To(Equal([]clevertap.RecordOutcome{{Index: 1, Code: 525,
			Error:     "Timestamp should be present in the Unix Epoch format. Skipped record number : 2",
			Diagnosis: "ts must be a positive whole number of epoch seconds (not milliseconds, not a date)"}}))
		Expect(e.Records.Warnings).To(ContainElement(HaveField("Warning", ContainSubstring("looks like milliseconds"))))
	})

	It("blocks on /_sim/wait until records arrive, and answers 408 with what there is on timeout", func(ctx SpecContext) {
		who := identity("wait")
		done := make(chan []clevertap.Event, 1)
		go func() {
			defer GinkgoRecover()
			events, err := client.Wait(ctx, clevertap.WaitRequest{Identity: who, Name: "later", Count: 2, TimeoutMS: 20000})
			Expect(err).NotTo(HaveOccurred())
			done <- events
		}()
		upload(ctx, "eu1", creds("eu1"), body(eventRecord(who, "later")))
		upload(ctx, "eu1", creds("eu1"), body(eventRecord(who, "later")))
		Eventually(done).WithContext(ctx).Should(Receive(HaveLen(2)))

		res := call(ctx, "POST", "", "/_sim/wait", clevertap.Credentials{},
			fmt.Sprintf(`{"identity":%q,"name":"later","count":3,"timeout_ms":50}`, who))
		Expect(res.Status).To(Equal(408))
		Expect(res.JSON()).To(HaveKeyWithValue("events", HaveLen(2)))
		Expect(call(ctx, "POST", "", "/_sim/wait", clevertap.Credentials{}, `{"count":0}`).Status).To(Equal(400))
	})

	It("creates and replaces accounts, refusing invalid ones with the reason", func(ctx SpecContext) {
		res := call(ctx, "POST", "", "/_sim/accounts", clevertap.Credentials{},
			`{"id":"BAD-1","passcodes":[],"region":"eu1"}`)
		Expect(res.Status).To(Equal(400))
		Expect(res.Body).To(ContainSubstring("passcodes: expected at least one passcode for account BAD-1, got none"))
		c := freshAccount(ctx, "sk1", nil)
		upd := call(ctx, "POST", "", "/_sim/accounts", clevertap.Credentials{},
			fmt.Sprintf(`{"id":%q,"passcodes":["rotated"],"region":"sk1"}`, c.AccountID))
		Expect(upd.Status).To(Equal(200))
		Expect(upload(ctx, "sk1", c, body(eventRecord("u", "e"))).Status).To(Equal(401))
		Expect(upload(ctx, "sk1", clevertap.Credentials{AccountID: c.AccountID, Passcode: "rotated"}, body(eventRecord("u",
			"e"))).Status).To(Equal(200))
	})

	It("answers health with a version", func(ctx SpecContext) {
		res := call(ctx, "GET", "", "/_sim/health", clevertap.Credentials{}, "")
		Expect(res.Status).To(Equal(200))
		Expect(res.JSON()).To(And(HaveKeyWithValue("status", "ok"), HaveKey("version"),
			HaveKeyWithValue("events", BeAssignableToTypeOf(float64(0))), HaveKeyWithValue("profiles",
				BeAssignableToTypeOf(float64(0)))))
	})

	It("lists the admin routes for an unknown one", func(ctx SpecContext) {
		res := call(ctx, "GET", "", "/_sim/nope", clevertap.Credentials{}, "")
		Expect(res.Status).To(Equal(404))
		Expect(res.Body).To(ContainSubstring("POST /_sim/wait"))
	})
})

var _ = Describe("faults", Label("faults"), func() {
	addFault := func(ctx context.Context, f clevertap.Fault) clevertap.Fault {
		added, err := client.AddFault(ctx, f)
		Expect(err).NotTo(HaveOccurred())
		return added
	}

	It("answers a status N times, then normally, storing nothing meanwhile", func(ctx SpecContext) {
		c := freshAccount(ctx, "eu1", nil)
		addFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 503, Times: 2, Account: c.AccountID})
		who := identity("outage")
		var statuses []int
		for i := 0; i < 3; i++ {
			statuses = append(statuses, upload(ctx, "eu1", c, body(eventRecord(who, "e"))).Status)
		}
		Expect(statuses).To(Equal([]int{503, 503, 200}))
		events, _ := client.Events(ctx, clevertap.EventFilter{Identity: who})
		Expect(events).To(HaveLen(1))
	})

	It("answers CleverTap's 503 body unless a body is given", func(ctx SpecContext) {
		c := freshAccount(ctx, "eu1", nil)
		addFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 503, Times: 1, Account: c.AccountID})
		addFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 500, Times: 1, Account: c.AccountID,
			Body: `oops`})
		Expect(upload(ctx, "eu1", c,
			oneEventBody()).Body).To(Equal(`{"status":"fail","error":"Service Unavailable. Please retry later","code":503}`))
		Expect(upload(ctx, "eu1", c, oneEventBody()).Body).To(Equal(`oops`))
	})

	It("resets the connection", func(ctx SpecContext) {
		c := freshAccount(ctx, "eu1", nil)
		addFault(ctx, clevertap.Fault{Action: clevertap.FaultReset, Times: 1, Account: c.AccountID})
		_, err := clevertap.NewClient(baseURL).UploadRaw(ctx, "eu1", c, []byte(oneEventBody()), "")
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(Or(ContainSubstring("reset"), ContainSubstring("EOF")))
	})

	It("can reset after storing, so a client that resends creates a duplicate", func(ctx SpecContext) {
		c := freshAccount(ctx, "eu1", nil)
		addFault(ctx, clevertap.Fault{Action: clevertap.FaultReset, Times: 1, Account: c.AccountID, AfterProcessing: true})
		who := identity("ghost")
		_, err := clevertap.NewClient(baseURL).UploadRaw(ctx, "eu1", c, []byte(body(eventRecord(who, "e"))), "")
		Expect(err).To(HaveOccurred())
		events, _ := client.Events(ctx, clevertap.EventFilter{Identity: who})
		Expect(events).To(HaveLen(1))
	})

	It("answers a truncated body", func(ctx SpecContext) {
		c := freshAccount(ctx, "eu1", nil)
		addFault(ctx, clevertap.Fault{Action: clevertap.FaultMalformed, Times: 1, Account: c.AccountID})
		res := upload(ctx, "eu1", c, oneEventBody())
		Expect(res.Status).To(Equal(200))
		Expect(json.Valid([]byte(res.Body))).To(BeFalse())
	})

	It("delays, then answers normally", func(ctx SpecContext) {
		c := freshAccount(ctx, "eu1", nil)
		addFault(ctx, clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 150, Times: 1, Account: c.AccountID})
		start := time.Now()
		res := upload(ctx, "eu1", c, oneEventBody())
		Expect(res.Body).To(Equal(success1))
		Expect(time.Since(start)).To(BeNumerically(">=", 150*time.Millisecond))
	})

	It("limits a fault to a region", func(ctx SpecContext) {
		f := addFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 502, Region: "sk1",
			Account: account("sk1").ID})
		DeferCleanup(func(ctx SpecContext) { call(ctx, "DELETE", "", "/_sim/faults/"+f.ID, clevertap.Credentials{}, "") })
		Expect(upload(ctx, "sk1", creds("sk1"), oneEventBody()).Status).To(Equal(502))
		Expect(upload(ctx, "us1", creds("us1"), oneEventBody()).Status).To(Equal(200))
	})

	It("refuses a fault with a typo, naming the field", func(ctx SpecContext) {
		res := call(ctx, "POST", "", "/_sim/faults", clevertap.Credentials{}, `{"action":"respond","staus":503}`)
		Expect(res.Status).To(Equal(400))
		Expect(res.Body).To(ContainSubstring(`unknown field \"staus\"`))
	})
})

func oneEventBody() string { return body(eventRecord(identity("one"), "e")) }

var _ = Describe("hostile input", Label("badinput"), func() {
	DescribeTable("never answers 5xx",
		func(ctx SpecContext, method, path, contentType, raw string) {
			req, _ := http.NewRequestWithContext(ctx, method, baseURL+path, strings.NewReader(raw))
			req.Header.Set("X-CleverTap-Account-Id", creds("eu1").AccountID)
			req.Header.Set("X-CleverTap-Passcode", creds("eu1").Passcode)
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(And(BeNumerically(">=", 200), BeNumerically("<", 500)))
		},
		Entry("deep nesting", "POST", "/eu1/1/upload", "application/json", `{"d":[`+strings.Repeat(`{"a":`,
			5000)+`1`+strings.Repeat(`}`, 5000)+`]}`),
		Entry("deep arrays", "POST", "/eu1/1/upload", "application/json", `{"d":`+strings.Repeat(`[`, 100000)),
		Entry("xml", "POST", "/eu1/1/upload", "application/xml", `<d><type>event</type></d>`),
		Entry("null", "POST", "/eu1/1/upload", "application/json", `null`),
		Entry("number", "POST", "/eu1/1/upload", "application/json", `42`),
		Entry("huge number ts", "POST", "/eu1/1/upload", "application/json",
			`{"d":[{"type":"event","identity":"u","ts":1e999,"evtName":"x"}]}`),
		Entry("delete with junk", "POST", "/eu1/1/delete/profiles.json", "application/json", `{"identity":{"a":1}}`),
		Entry("profile with odd query", "GET", "/eu1/1/profile.json?identity=%00%ff", "", ``),
		Entry("attribution with a bad form", "POST", "/eu1/attribution", "application/x-www-form-urlencoded", `%zz=1`),
		Entry("unknown path", "PUT", "/eu1/2/anything", "", `x`),
		Entry("wait with junk", "POST", "/_sim/wait", "application/json", `{"count":"many"}`),
		Entry("fault with junk", "POST", "/_sim/faults", "application/json", `[`),
		Entry("account with junk", "POST", "/_sim/accounts", "application/json", `{"id":1}`),
		Entry("piano with junk", "POST", "/piano/event?s=100001", "text/plain", `{"events":"x"}`),
	)
})
