package clevertap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// dec2 is 2025-12-02T00:00:00Z: the read specs upload events of that day and ask for it.
const dec2 = 1764633600

// dayOfEvents uploads n events named name on 2025-12-02, one an hour from midnight, with evtData {"n": i} and
// identities spread over three users; it returns the users.
func dayOfEvents(ctx context.Context, r clevertap.Region, name string, n int) []string {
	users := []string{identity("a"), identity("b"), identity("c")}
	records := make([]string, n)
	for i := range records {
		records[i] = fmt.Sprintf(`{"type":"event","identity":%q,"ts":%d,"evtName":%q,"evtData":{"n":%d}}`,
			users[i%3], dec2+i*3600, name, i)
	}
	res := upload(ctx, r, creds(r), body(records...))
	Expect(res.Body).To(ContainSubstring(fmt.Sprintf(`"processed":%d`, n)))
	return users
}

var encodedCursor = regexp.MustCompile(`^[A-Za-z0-9%]+%3D%3D$`)

var _ = Describe("the read API: Get Events and Get User Profiles", Label("read"), func() {
	It("pages every event of the range exactly once, as live chains come", func(ctx SpecContext) {
		name := identity("Renewal")
		dayOfEvents(ctx, "eu1", name, 24)
		// batch_size 30: pages of 23 (live pages hold multiples of 23), then one more page {"status":"success"}
		first := call(ctx, "POST", "", "/eu1/1/events.json?batch_size=30", creds("eu1"),
			fmt.Sprintf(`{"event_name":%q,"from":20251202,"to":20251202}`, name)).JSON()
		Expect(first["status"]).To(Equal("success"))
		cursor, _ := first["cursor"].(string)
		Expect(cursor).To(MatchRegexp(encodedCursor.String()))

		var sizes, seen []int
		for cursor != "" {
			var page struct {
				NextCursor string `json:"next_cursor"`
				Records    []struct {
					Profile struct {
						Identity string `json:"identity"`
					} `json:"profile"`
					TS         int64 `json:"ts"`
					EventProps struct {
						N int `json:"n"`
					} `json:"event_props"`
				} `json:"records"`
			}
			res := call(ctx, "GET", "", "/eu1/1/events.json?cursor="+cursor, creds("eu1"), "")
			Expect(json.Unmarshal([]byte(res.Body), &page)).To(Succeed())
			Expect(res.Body).NotTo(ContainSubstring("previous_cursor"))
			if len(page.Records) == 0 {
				Expect(res.Body).To(Equal(`{"status":"success"}`))
			}
			sizes = append(sizes, len(page.Records))
			for _, r := range page.Records {
				Expect(r.TS).To(Equal(int64(20251202000000 + r.EventProps.N*10000)))
				seen = append(seen, r.EventProps.N)
			}
			cursor = page.NextCursor
		}
		Expect(sizes).To(Equal([]int{23, 1, 0}))
		Expect(seen).To(Equal([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
			22, 23}))
	})

	It("refuses a cursor encoded twice with CleverTap's answer and says why", func(ctx SpecContext) {
		name := identity("Renewal")
		dayOfEvents(ctx, "us1", name, 2)
		first := call(ctx, "POST", "", "/us1/1/events.json", creds("us1"),
			fmt.Sprintf(`{"event_name":%q,"from":20251202,"to":20251202}`, name)).JSON()
		res := call(ctx, "GET", "", "/us1/1/events.json?cursor="+url.QueryEscape(first["cursor"].(string)),
			creds("us1"), "")
		Expect(res.Status).To(Equal(200))
		Expect(res.Body).To(Equal(`{"status":"fail","error":"Incorrect Usage","code":3}`))
		Expect(res.Diagnosis).To(ContainSubstring("percent-encoded twice"))
	})

	It("answers an unknown event name with CleverTap's error, not an empty result", func(ctx SpecContext) {
		res := call(ctx, "POST", "", "/eu1/1/events.json", creds("eu1"),
			`{"event_name":"rc_renewal_evnt","from":20251202,"to":20251202}`)
		Expect(res.Status).To(Equal(200))
		Expect(res.Body).To(Equal(`{"status":"fail","error":"[\"Invalid event : rc_renewal_evnt\"]","code":400}`))
	})

	It("reads the same data through the client, by events, profiles and counts", func(ctx SpecContext) {
		name := identity("Charged")
		users := dayOfEvents(ctx, "sg1", name, 9)
		c := clevertap.NewClient(baseURL)
		c.PollInterval = 10 * time.Millisecond
		q := clevertap.Query{EventName: name, From: 20251202, To: 20251202}
		n := 0
		Expect(c.GetEvents(ctx, "sg1", creds("sg1"), q, clevertap.PageOptions{BatchSize: 4},
			func(clevertap.EventRecord) error { n++; return nil })).To(Succeed())
		Expect(n).To(Equal(9))
		var got []string
		Expect(c.GetProfiles(ctx, "sg1", creds("sg1"), q, clevertap.PageOptions{BatchSize: 23},
			func(p clevertap.ProfileRecord) error { got = append(got, p.Identity); return nil })).To(Succeed())
		Expect(got).To(Equal(users))
		Expect(c.CountEvents(ctx, "sg1", creds("sg1"), q)).To(Equal(9))
		Expect(c.CountProfiles(ctx, "sg1", creds("sg1"), q)).To(Equal(3))
		trends, err := c.Trends(ctx, "sg1", creds("sg1"), q, map[string]string{"d": "daily"}, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(trends).To(Equal(map[string]map[string]float64{"d": {"20251202": 3}}))
	})
})

var _ = Describe("the counts' partial and req_id protocol", Label("read"), func() {
	It("answers partial with a req_id, then the count to GET ?req_id=", func(ctx SpecContext) {
		name := identity("Renewal")
		dayOfEvents(ctx, "aps3", name, 4)
		first := call(ctx, "POST", "", "/aps3/1/counts/events.json", creds("aps3"),
			fmt.Sprintf(`{"event_name":%q,"from":20251202,"to":20251202}`, name))
		Expect(first.Body).To(MatchRegexp(`^\{"req_id":[1-9][0-9]{14},"status":"partial"\}$`))
		id := strings.TrimSuffix(strings.TrimPrefix(first.Body, `{"req_id":`), `,"status":"partial"}`)
		res := call(ctx, "GET", "", "/aps3/1/counts/events.json?req_id="+id, creds("aps3"), "")
		Expect(res.Body).To(Equal(`{"count":4,"status":"success"}`))
		res = call(ctx, "GET", "", "/aps3/1/counts/events.json?req_id=1"+id, creds("aps3"), "")
		Expect(res.Body).To(Equal(`{"status":"fail","error":"Invalid request id","code":400}`))
	})

	It("counts the users active in the last five minutes", func(ctx SpecContext) {
		a := freshAccount(ctx, "mec1", nil)
		Expect(upload(ctx, "mec1", a, body(eventRecord(identity("u"), "Open"))).Status).To(Equal(200))
		res := call(ctx, "POST", "", "/mec1/1/now.json", a, "")
		Expect(res.Body).To(MatchRegexp(`^\{"status":"success","count":1,"last_processed_ts":[0-9]{10}\}$`))
	})
})

var _ = Describe("profile operations and the write endpoints", Label("read"), func() {
	It("applies $incr, $add and $delete, and profile.json shows the result", func(ctx SpecContext) {
		who := identity("jack")
		Expect(upload(ctx, "eu1", creds("eu1"), body(
			fmt.Sprintf(`{"type":"profile","identity":%q,"profileData":{"Score":300,"Tags":"vip","Gone":1}}`, who),
			fmt.Sprintf(`{"type":"profile","identity":%q,"profileData":{"Score":{"$incr":8},"Tags":{"$add":["new"]},`+
				`"Gone":{"$delete":true}}}`, who),
			fmt.Sprintf(`{"type":"event","identity":%q,"ts":1457271567,"evtName":"Opened","evtData":{}}`, who),
		)).Body).To(ContainSubstring(`"processed":3`))
		res := call(ctx, "GET", "", "/eu1/1/profile.json?identity="+who, creds("eu1"), "")
		Expect(res.Body).To(Equal(fmt.Sprintf(`{"status":"success","record":{"identity":%q,`+
			`"profileData":{"Score":308,"Tags":["vip","new"]},`+
			`"events":{"Opened":{"count":1,"first_seen":1457271567,"last_seen":1457271567}},"platformInfo":[]}}`, who)))
	})

	It("disassociates, unsubscribes and demerges the fake's profiles", func(ctx SpecContext) {
		phone := fmt.Sprintf("+1415555%04d", accountSeq.Add(1)%10000)
		Expect(upload(ctx, "in1", creds("in1"), body(fmt.Sprintf(
			`{"type":"profile","identity":%q,"objectId":"__in1dev","profileData":{"Phone":%q}}`, phone, phone))).Status).
			To(Equal(200))
		ok := `{"status":"success"}`
		Expect(call(ctx, "POST", "", "/in1/1/subscribe", creds("in1"),
			fmt.Sprintf(`{"d":[{"type":"phone","value":%q,"status":"Unsubscribe"}]}`, phone)).Body).To(Equal(ok))
		profiles, err := client.Profiles(ctx, account("in1").ID, phone)
		Expect(err).NotTo(HaveOccurred())
		Expect(profiles).To(HaveLen(1))
		Expect(profiles[0].DND).To(Equal([]string{"phone"}))
		Expect(call(ctx, "POST", "", "/in1/1/demerge/profiles.json", creds("in1"),
			fmt.Sprintf(`{"identities":[%q]}`, phone)).Body).To(Equal(ok))
		Expect(call(ctx, "POST", "", "/in1/1/disassociate", creds("in1"),
			fmt.Sprintf(`{"d":[{"type":"phone","value":%q}]}`, phone)).Body).To(Equal(ok))
		Expect(call(ctx, "GET", "", "/in1/1/profile.json?identity="+url.QueryEscape(phone), creds("in1"), "").Status).
			To(Equal(http.StatusNotFound))
	})

	It("refuses more than 100 ids to delete with the text RudderStack reports", func(ctx SpecContext) {
		ids := strings.TrimSuffix(strings.Repeat(`"x",`, 101), ",")
		res := call(ctx, "POST", "", "/eu1/1/delete/profiles.json", creds("eu1"), `{"identity":[`+ids+`]}`)
		Expect(res.Status).To(Equal(400))
		Expect(res.Body).To(Equal(`{"status":"fail","error":"Max 100 are allowed","code":400}`))
	})

	It("takes ts as a string of epoch seconds, as CleverTap's own Python example sends it", func(ctx SpecContext) {
		res := upload(ctx, "eu1", creds("eu1"), body(fmt.Sprintf(
			`{"type":"event","identity":%q,"ts":"1700000000","evtName":"e","evtData":{}}`, identity("py"))))
		Expect(res.Body).To(Equal(`{"status":"success","processed":1,"unprocessed":[]}`))
	})
})
