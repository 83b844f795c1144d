package clevertap_test

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

const (
	success1    = `{"status":"success","processed":1,"unprocessed":[]}`
	notValid401 = `{"status":"fail","error":"Account ID is not valid","code":401}`
)

var _ = Describe("regions", Label("regions"), func() {
	DescribeTable("each region answers on its own host",
		func(ctx SpecContext, r clevertap.Region, host string) {
			res := call(ctx, http.MethodPost, host, "/1/upload", creds(r), body(eventRecord(identity("host"), "e")))
			Expect(res.Status).To(Equal(200))
			Expect(res.Body).To(Equal(success1))
		},
		Entry("eu1 on api.clevertap.com", clevertap.Region("eu1"), "api.clevertap.com"),
		Entry("eu1 on eu1.api.clevertap.com", clevertap.Region("eu1"), "eu1.api.clevertap.com"),
		Entry("in1", clevertap.Region("in1"), "in1.api.clevertap.com"),
		Entry("sg1", clevertap.Region("sg1"), "sg1.api.clevertap.com"),
		Entry("us1", clevertap.Region("us1"), "us1.api.clevertap.com"),
		Entry("aps3", clevertap.Region("aps3"), "aps3.api.clevertap.com"),
		Entry("mec1", clevertap.Region("mec1"), "mec1.api.clevertap.com"),
		Entry("sk1", clevertap.Region("sk1"), "sk1.api.clevertap.com"),
	)

	DescribeTable("each region answers on its path prefix, and a bare path is eu1",
		func(ctx SpecContext, r clevertap.Region, path string) {
			res := call(ctx, http.MethodPost, "", path, creds(r), body(eventRecord(identity("prefix"), "e")))
			Expect(res.Body).To(Equal(success1))
		},
		Entry("bare /1/upload", clevertap.Region("eu1"), "/1/upload"),
		Entry("/eu1", clevertap.Region("eu1"), "/eu1/1/upload"),
		Entry("/in1", clevertap.Region("in1"), "/in1/1/upload"),
		Entry("/sg1", clevertap.Region("sg1"), "/sg1/1/upload"),
		Entry("/us1", clevertap.Region("us1"), "/us1/1/upload"),
		Entry("/aps3", clevertap.Region("aps3"), "/aps3/1/upload"),
		Entry("/mec1", clevertap.Region("mec1"), "/mec1/1/upload"),
		Entry("/sk1", clevertap.Region("sk1"), "/sk1/1/upload"),
	)

	DescribeTable("an account called on another region's host is an unknown account there",
		func(ctx SpecContext, home clevertap.Region, host, wentTo string) {
			res := call(ctx, http.MethodPost, host, "/1/upload", creds(home), body(eventRecord(identity("wrong"), "e")))
			Expect(res.Status).To(Equal(401))
			Expect(res.Body).To(Equal(notValid401))
			Expect(res.Diagnosis).To(ContainSubstring("account " + account(home).ID + " lives in " + string(home) +
				"; this request went to " + wentTo))
		},
		Entry("in1 account on the EU host", clevertap.Region("in1"), "api.clevertap.com", "eu1"),
		Entry("eu1 account on us1", clevertap.Region("eu1"), "us1.api.clevertap.com", "us1"),
		Entry("aps3 account on mec1", clevertap.Region("aps3"), "mec1.api.clevertap.com", "mec1"),
		Entry("mec1 account on sk1", clevertap.Region("mec1"), "sk1.api.clevertap.com", "sk1"),
	)

	It("says which region a wrong-region request went to in the journal too", func(ctx SpecContext) {
		res := call(ctx, http.MethodPost, "sg1.api.clevertap.com", "/1/upload", creds("in1"), body(eventRecord(identity("j"),
			"e")))
		Expect(res.Status).To(Equal(401))
		entries, err := client.Requests(ctx, clevertap.JournalFilter{Account: account("in1").ID,
			Outcome: clevertap.OutcomeUnauthorized})
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).NotTo(BeEmpty())
		last := entries[len(entries)-1]
		Expect(last.Region).To(Equal(clevertap.Region("sg1")))
		Expect(strings.Join(last.Diagnosis, " ")).To(ContainSubstring("lives in in1; this request went to sg1"))
	})
})

var _ = Describe("authentication", Label("auth"), func() {
	It("accepts any of an account's passcodes", func(ctx SpecContext) {
		a := account("us1")
		for _, p := range a.Passcodes {
			res := upload(ctx, "us1", clevertap.Credentials{AccountID: a.ID, Passcode: p}, body(eventRecord(identity("pass"),
				"e")))
			Expect(res.Body).To(Equal(success1))
		}
	})

	DescribeTable("answers 401 with CleverTap's body",
		func(ctx SpecContext, c func() clevertap.Credentials, wantBody, wantDiagnosis string) {
			res := upload(ctx, "eu1", c(), body(eventRecord(identity("auth"), "e")))
			Expect(res.Status).To(Equal(401))
			Expect(res.Body).To(Equal(wantBody))
			Expect(res.Diagnosis).To(ContainSubstring(wantDiagnosis))
		},
		Entry("unknown account", func() clevertap.Credentials {
			return clevertap.Credentials{AccountID: "W6W-797-865Z",
				Passcode: "x"}
		},
			notValid401, `no account "W6W-797-865Z"`),
		Entry("no account header", func() clevertap.Credentials { return clevertap.Credentials{Passcode: "x"} },
			notValid401, "missing header X-CleverTap-Account-Id"),
		Entry("wrong passcode", func() clevertap.Credentials {
			return clevertap.Credentials{AccountID: account("eu1").ID, Passcode: "guess"}
		},
			`{"status":"fail","error":"Invalid Credentials","code":401}`, "wrong X-CleverTap-Passcode"),
		Entry("no passcode", func() clevertap.Credentials { return clevertap.Credentials{AccountID: account("eu1").ID} },
			`{"status":"fail","error":"Invalid Credentials","code":401}`, "missing header X-CleverTap-Passcode"),
	)

	It("answers with CleverTap's content type and the simulator's headers", func(ctx SpecContext) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/eu1/1/upload",
			strings.NewReader(body(eventRecord(identity("h"), "e"))))
		req.Header.Set("X-CleverTap-Account-Id", creds("eu1").AccountID)
		req.Header.Set("X-CleverTap-Passcode", creds("eu1").Passcode)
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.Header.Get("Content-Type")).To(Equal("application/json;charset=utf-8"))
		Expect(resp.Header.Get("X-Simulator-Request-Id")).To(HavePrefix("sim-"))
		Expect(resp.Header.Get("X-Simulator-Version")).NotTo(BeEmpty())
	})
})
