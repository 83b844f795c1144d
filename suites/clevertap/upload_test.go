package clevertap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// unprocessed is one entry of CleverTap's unprocessed[].
type unprocessed struct {
	Status string          `json:"status"`
	Code   int             `json:"code"`
	Error  string          `json:"error"`
	Record json.RawMessage `json:"record"`
}

type uploadAnswer struct {
	Status      string        `json:"status"`
	Processed   int           `json:"processed"`
	Unprocessed []unprocessed `json:"unprocessed"`
}

func answer(res response) uploadAnswer {
	var a uploadAnswer
	Expect(json.Unmarshal([]byte(res.Body), &a)).To(Succeed(), "not an upload answer: %s", res.Body)
	return a
}

var _ = Describe("POST /1/upload per-record codes", Label("upload", "codes"), func() {
	// The second record of each upload is the one under test, so "Skipped record number : 2" proves the
	// 1-based numbering; the first record is good and makes the answer "partial".
	DescribeTable("rejects the record with CleverTap's code and text",
		func(ctx SpecContext, record string, code int, text string) {
			c := freshAccount(ctx, "eu1", func(a *clevertap.Account) {
				a.DiscardedEvents = []string{"Legacy Event"}
				a.EventPropertyLimit = 3
			})
			res := upload(ctx, "eu1", c, body(eventRecord(identity("ok"), "e"), record))
			Expect(res.Status).To(Equal(200))
			a := answer(res)
			Expect(a.Status).To(Equal("partial"))
			Expect(a.Processed).To(Equal(1))
			Expect(a.Unprocessed).To(HaveLen(1))
			Expect(a.Unprocessed[0].Status).To(Equal("fail"))
			Expect(a.Unprocessed[0].Code).To(Equal(code))
			Expect(a.Unprocessed[0].Error).To(Equal(text))
			Expect(a.Unprocessed[0].Record).To(MatchJSON(record))
		},
		Entry("509 event name missing", `{"type":"event","identity":"u","evtData":{}}`, 509,
			"Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. Skipped record number : 2"),
		Entry("512 evtData not an object", `{"type":"event","identity":"u","evtName":"x","evtData":[1]}`, 512,
			"Event data is incorrect. ErrorCode: 512 - Invalid event structure. Skipped record number : 2"),
		Entry("513 restricted system event", `{"type":"event","identity":"u","evtName":"Notification Clicked","evtData":{}}`,
			513,
			"Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event. Skipped record number : 2"),
		Entry("513 Web Page Viewed, which the real server rejected",
			`{"type":"event","identity":"u","evtName":"Web Page Viewed","evtData":{}}`, 513,
			"Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event. Skipped record number : 2"),
		Entry("514 gender", `{"type":"profile","identity":"u","profileData":{"Gender":"male"}}`, 514,
			"Profile data is incorrect. Gender needs to be M/F.Skipped record number : 2"),
		Entry("515 email", `{"type":"profile","identity":"u","profileData":{"Email":"a@b"}}`, 515,
			"Profile data is incorrect. Email is not valid.Skipped record number : 2"),
		Entry("516 phone", `{"type":"profile","identity":"u","profileData":{"Phone":"223"}}`, 516,
			"Profile data is incorrect. Phone number is not valid.Skipped record number : 2"),
		Entry("517 employed", `{"type":"profile","identity":"u","profileData":{"Employed":"maybe"}}`, 517,
			"Profile data is incorrect. Employed needs to be Y/N.Skipped record number : 2"),
		Entry("518 education", `{"type":"profile","identity":"u","profileData":{"Education":"Kindergarten"}}`, 518,
			"Profile data is incorrect. Education needs to be School/College/Graduate..Skipped record number : 2"),
		Entry("519 married", `{"type":"profile","identity":"u","profileData":{"Married":"yes"}}`, 519,
			"Profile data is incorrect. Married needs to be Y/N.Skipped record number : 2"),
		Entry("520 age", `{"type":"profile","identity":"u","profileData":{"Age":"aa"}}`, 520,
			"Profile data is incorrect. Age is invalid.Skipped record number : 2"),
		Entry("522 too many properties", `{"type":"event","identity":"u","evtName":"x","evtData":{"a":1,"b":2,"c":3,"d":4}}`,
			522,
			"Event data is incorrect. ErrorCode: 522 - Event properties limit exceeded. Skipped record number : 2"),
		Entry("523 no identity", `{"type":"event","evtName":"x","evtData":{}}`, 523,
			"'identity' or 'fbId' or 'gpId' or 'objectId' is necessary under 120 chars to identify the user. Skipped record "+
				"number : 2"),
		Entry("523 identity of 120 characters", `{"type":"event","identity":"`+strings.Repeat("x",
			120)+`","evtName":"x","evtData":{}}`, 523,
			"'identity' or 'fbId' or 'gpId' or 'objectId' is necessary under 120 chars to identify the user. Skipped record "+
				"number : 2"),
		Entry("524 neither event nor profile", `{"type":"purchase","identity":"u"}`, 524,
			"Record type is incorrect. ErrorCode: 524 - Data is neither event nor profile. Skipped record number : 2"),
		Entry("525 ts zero", `{"type":"event","identity":"u","ts":0,"evtName":"x","evtData":{}}`, 525,
			"Timestamp should be present in the Unix Epoch format. Skipped record number : 2"),
		Entry("525 ts in milliseconds", `{"type":"event","identity":"u","ts":1700000000000,"evtName":"x","evtData":{}}`, 525,
			"Timestamp should be present in the Unix Epoch format. Skipped record number : 2"),
		Entry("525 ts negative", `{"type":"event","identity":"u","ts":-1,"evtName":"x","evtData":{}}`, 525,
			"Timestamp should be present in the Unix Epoch format. Skipped record number : 2"),
		Entry("526 objectId invalid", `{"type":"event","objectId":"not an id!","evtName":"x","evtData":{}}`, 526,
			"'objectId' is incorrect. ErrorCode: 526 - objectId is invalid. Skipped record number : 2"),
		Entry("528 discarded event", `{"type":"event","identity":"u","evtName":"Legacy Event","evtData":{}}`, 528,
			"Event Name is incorrect. ErrorCode: 528 - Discarded event is raised. Skipped record number : 2"),
		Entry("530 token without objectId", `{"type":"token","identity":"u","tokenData":{"id":"t","type":"fcm"}}`, 530,
			"Token data is incorrect. ErrorCode: 530 - Invalid 'objectId'. Skipped record number : 2"),
		Entry("531 token data missing", `{"type":"token","objectId":"__g1"}`, 531,
			"Token data is incorrect. ErrorCode: 531 - Invalid token data. Skipped record number : 2"),
		Entry("532 token id missing", `{"type":"token","objectId":"__g1","tokenData":{"type":"apns"}}`, 532,
			"Token data is incorrect. ErrorCode: 532 - Token 'id' not present. Skipped record number : 2"),
		Entry("533 token type missing", `{"type":"token","objectId":"__g1","tokenData":{"id":"t"}}`, 533,
			"Token data is incorrect. ErrorCode: 533 - Token 'type' not present. Skipped record number : 2"),
		Entry("534 token type not valid", `{"type":"token","objectId":"__g1","tokenData":{"id":"t","type":"pager"}}`, 534,
			"Token data is incorrect. ErrorCode: 534 - Token 'type' not valid for 'objectId'. Skipped record number : 2"),
		Entry("535 chrome token without keys", `{"type":"token","objectId":"__g1","tokenData":{"id":"t","type":"chrome"}}`,
			535,
			"Token data is incorrect. ErrorCode: 535 - Invalid token data. Skipped record number : 2"),
	)

	It("answers fail when no record was processed", func(ctx SpecContext) {
		res := upload(ctx, "eu1", creds("eu1"), body(`{"type":"event","identity":"u","ts":0,"evtName":"x","evtData":{}}`))
		Expect(res.Body).To(Equal(
			`{"status":"fail","processed":0,"unprocessed":[{"status":"fail","code":525,` +
				`"error":"Timestamp should be present in the Unix Epoch format. Skipped record number : 1",` +
				`"record":{"type":"event","identity":"u","ts":0,"evtName":"x","evtData":{}}}]}`))
	})
})

var _ = Describe("the vendor's own upload samples", Label("upload", "revenuecat", "samples"), func() {
	samples, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "vendor-samples", "revenuecat", "clevertap-uploads",
		"*.json"))
	It("are all present in fixtures", func() {
		Expect(samples).To(HaveLen(11))
	})
	for _, path := range samples {
		It("accepts "+filepath.Base(path)+" as a full success", func(ctx SpecContext) {
			raw, err := os.ReadFile(path)
			Expect(err).NotTo(HaveOccurred())
			res := upload(ctx, "eu1", creds("eu1"), string(raw))
			Expect(res.Status).To(Equal(200))
			Expect(res.Body).To(Equal(success1))
		})
	}
})

var _ = Describe("POST /1/upload request limits", Label("upload", "limits"), func() {
	many := func(n int, rec string) string { return body(strings.Split(strings.Repeat(rec+"\n", n), "\n")[:n]...) }

	It("takes 1000 records in one request", func(ctx SpecContext) {
		res := upload(ctx, "eu1", creds("eu1"), many(1000, eventRecord(identity("bulk"), "bulk")))
		Expect(res.Body).To(Equal(`{"status":"success","processed":1000,"unprocessed":[]}`))
	})
	It("refuses 1001 records with 400", func(ctx SpecContext) {
		res := upload(ctx, "eu1", creds("eu1"), many(1001, eventRecord(identity("bulk"), "bulk")))
		Expect(res.Status).To(Equal(400))
		Expect(res.Body).To(Equal(
			`{"status":"fail","error":"Too many records. Maximum allowed records per request is 1000","code":400}`))
		Expect(res.Diagnosis).To(ContainSubstring("expected at most 1000 records"))
	})
	It("refuses 101 token records with 400", func(ctx SpecContext) {
		res := upload(ctx, "eu1", creds("eu1"), many(101,
			`{"type":"token","objectId":"__g1","tokenData":{"id":"t","type":"fcm"}}`))
		Expect(res.Status).To(Equal(400))
		Expect(res.Body).To(Equal(
			`{"status":"fail","error":"Too many records. Maximum allowed records per request is 100","code":400}`))
	})
	It("refuses a body over the size limit with 413", func(ctx SpecContext) {
		huge := body(`{"type":"event","identity":"u","evtName":"x","evtData":{"blob":"` + strings.Repeat("x", 9<<20) + `"}}`)
		res := upload(ctx, "eu1", creds("eu1"), huge)
		Expect(res.Status).To(Equal(413))
		Expect(res.JSON()).To(HaveKeyWithValue("code", BeNumerically("==", 413)))
	})

	DescribeTable("answers 400 Malformed request to what is not an upload",
		func(ctx SpecContext, raw, diagnosis string) {
			res := upload(ctx, "eu1", creds("eu1"), raw)
			Expect(res.Status).To(Equal(400))
			Expect(res.Body).To(Equal(`{"status":"fail","error":"Malformed request","code":400}`))
			Expect(res.Diagnosis).To(ContainSubstring(diagnosis))
		},
		Entry("empty body", ``, "not JSON"),
		Entry("not JSON", `d=[]`, "not JSON"),
		Entry("truncated", `{"d":[{"type":"event"`, "not JSON"),
		Entry("trailing comma", `{"d":[{"type":"event","identity":"u","evtName":"x"},]}`, "not JSON"),
		Entry("an array", `[]`, "got a JSON array"),
		Entry("no d", `{"records":[]}`, `no "d" key`),
		Entry("d not an array", `{"d":"x"}`, `"d" is a JSON string`),
		Entry("raw control character in a string", "{\"d\":[{\"type\":\"event\",\"identity\":\"a\x01b\"}]}", "not JSON"),
		Entry("invalid UTF-8", "{\"d\":[{\"type\":\"event\",\"identity\":\"\xc3\x28\"}]}", "not valid UTF-8"),
	)
})

var _ = Describe("?dryRun=1", Label("upload", "dryrun"), func() {
	It("validates and answers as usual but stores nothing", func(ctx SpecContext) {
		who := identity("dry")
		res := call(ctx, "POST", "", "/eu1/1/upload?dryRun=1", creds("eu1"), body(eventRecord(who, "e"),
			`{"type":"event","identity":"u"}`))
		Expect(res.Body).To(Equal(
			`{"status":"partial","processed":1,"unprocessed":[{"status":"fail","code":509,` +
				`"error":"Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. Skipped record number : 2",` +
				`"record":{"type":"event","identity":"u"}}]}`))
		events, err := client.Events(ctx, clevertap.EventFilter{Identity: who})
		Expect(err).NotTo(HaveOccurred())
		Expect(events).To(BeEmpty())
	})
})

var _ = Describe("concurrent uploads", Label("upload", "ratelimit"), func() {
	It("answers 429 beyond the account's limit of requests in flight", func(ctx SpecContext) {
		c := freshAccount(ctx, "sg1", func(a *clevertap.Account) { a.MaxConcurrentUploads = 2 })
		_, err := client.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 60000, Times: 2,
			Account: c.AccountID})
		Expect(err).NotTo(HaveOccurred())
		slow, cancelSlow := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				_, _ = client.UploadRaw(slow, "sg1", c, []byte(body(eventRecord(identity("slow"), "e"))), "")
			}()
		}
		// the two slow uploads are in flight once both delay faults have been applied
		Eventually(func(g Gomega) {
			faults := faultsOf(ctx, c.AccountID)
			g.Expect(faults).To(BeEmpty(), "both delay faults consumed")
		}).WithContext(ctx).Should(Succeed())
		res := upload(ctx, "sg1", c, body(eventRecord(identity("third"), "e")))
		Expect(res.Status).To(Equal(429))
		Expect(res.Body).To(Equal(`{"status":"fail","error":"Too many concurrent requests","code":429}`))
		cancelSlow()
		wg.Wait()
		Eventually(func() int {
			return upload(ctx, "sg1", c, body(eventRecord(identity("after"),
				"e"))).Status
		}).WithContext(ctx).Should(Equal(200))
	})
})

func faultsOf(ctx context.Context, account string) []clevertap.Fault {
	var out struct {
		Faults []clevertap.Fault `json:"faults"`
	}
	res := call(ctx, "GET", "", "/_sim/faults", clevertap.Credentials{}, "")
	Expect(json.Unmarshal([]byte(res.Body), &out)).To(Succeed())
	var mine []clevertap.Fault
	for _, f := range out.Faults {
		if f.Account == account {
			mine = append(mine, f)
		}
	}
	return mine
}

var _ = Describe("profiles", Label("profiles"), func() {
	It("builds profiles from uploads, found by GET /1/profile.json by identity, email, objectId", func(ctx SpecContext) {
		who := identity("prof")
		email := who + "@example.com"
		res := upload(ctx, "in1", creds("in1"), body(
			fmt.Sprintf(
				`{"type":"profile","identity":%q,"objectId":"__g%s","profileData":{"Name":"Asha","Email":%q,`+
					`"Phone":"+919876543210","Gender":"F","plan":"gold"}}`, who, strings.ReplaceAll(who, "-", "_"), email),
			eventRecord(who, "rc_renewal_event")))
		Expect(res.Body).To(Equal(`{"status":"success","processed":2,"unprocessed":[]}`))
		for _, query := range []string{"identity=" + who, "email=" + email, "objectId=__g" + strings.ReplaceAll(who, "-",
			"_")} {
			got := call(ctx, "GET", "", "/in1/1/profile.json?"+query, creds("in1"), "")
			Expect(got.Status).To(Equal(200), query)
			m := got.JSON()
			Expect(m).To(HaveKeyWithValue("status", "success"))
			Expect(m["record"]).To(HaveKeyWithValue("identity", who))
			Expect(m["record"]).To(HaveKeyWithValue("profileData", HaveKeyWithValue("plan", "gold")))
			Expect(m["record"]).To(HaveKeyWithValue("events", HaveKey("rc_renewal_event")))
		}
	})
	It("answers 404 for an unknown profile and 400 without exactly one identifier", func(ctx SpecContext) {
		Expect(call(ctx, "GET", "", "/in1/1/profile.json?identity=nobody-"+identity("x"), creds("in1"),
			"").Status).To(Equal(404))
		Expect(call(ctx, "GET", "", "/in1/1/profile.json", creds("in1"), "").Status).To(Equal(400))
		Expect(call(ctx, "GET", "", "/in1/1/profile.json?identity=a&email=b", creds("in1"), "").Status).To(Equal(400))
	})
	It("deletes profiles with POST /1/delete/profiles.json", func(ctx SpecContext) {
		who := identity("del")
		upload(ctx, "us1", creds("us1"), body(eventRecord(who, "e")))
		Expect(call(ctx, "GET", "", "/us1/1/profile.json?identity="+who, creds("us1"), "").Status).To(Equal(200))
		res := call(ctx, "POST", "", "/us1/1/delete/profiles.json", creds("us1"), fmt.Sprintf(`{"identity":[%q]}`, who))
		Expect(res.Body).To(Equal(`{"status":"success"}`))
		Expect(call(ctx, "GET", "", "/us1/1/profile.json?identity="+who, creds("us1"), "").Status).To(Equal(404))
	})
})
