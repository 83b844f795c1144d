package fake

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

func testAccount() *clevertap.Account {
	a := clevertap.Account{ID: "T-1", Passcodes: []string{"p"}, Region: "eu1", DiscardedEvents: []string{"Old Event"},
		EventPropertyLimit: 3}
	a.Normalize()
	return &a
}

var testLimits = uploadLimits{maxRecords: 1000, maxTokenRecords: 100, maxTimestamp: defaultMaxTimestmp}

// TestRecordCodes: one record per case, the code CleverTap gives it (0 = processed), written by hand.
func TestRecordCodes(t *testing.T) {
	cases := []struct {
		name   string
		record string
		code   int
	}{
		{"event with identity",
			`{"type":"event","identity":"u1","ts":1700000000,"evtName":"rc_renewal_event","evtData":{"amount":4.99}}`, 0},
		{"event with objectId only",
			`{"type":"event","objectId":"abCdEFg01HiJklMN2OpQ3RStu4v5","evtName":"x","evtData":{}}`, 0},
		{"event with FBID only", `{"type":"event","FBID":"123","evtName":"x","evtData":{}}`, 0},
		{"event with GPID only", `{"type":"event","GPID":"123","evtName":"x","evtData":{}}`, 0},
		{"numeric identity", `{"type":"event","identity":555,"evtName":"x","evtData":{}}`, 0},
		{"RevenueCat anonymous identity",
			`{"type":"event","identity":"$RCAnonymousID:87c6049c58069238dce29853916d624c","evtName":"x","evtData":{}}`, 0},
		{"no ts is fine", `{"type":"event","identity":"u","evtName":"x","evtData":{}}`, 0},
		{"evtData missing is accepted by default", `{"type":"event","identity":"u","evtName":"x"}`, 0},
		{"Charged with Items",
			`{"type":"event","identity":"u","evtName":"Charged","evtData":{"Amount":1,"Items":[{"a":1}]}}`, 0},

		{"type missing", `{"identity":"u","evtName":"x","evtData":{}}`, 524},
		{"type unknown", `{"type":"click","identity":"u","evtName":"x","evtData":{}}`, 524},
		{"type in capitals", `{"type":"EVENT","identity":"u","evtName":"x","evtData":{}}`, 524},
		{"record not an object", `"just a string"`, 524},

		{"no identity at all", `{"type":"event","evtName":"x","evtData":{}}`, 523},
		{"empty identity", `{"type":"event","identity":"","evtName":"x","evtData":{}}`, 523},
		{"blank identity", `{"type":"event","identity":"   ","evtName":"x","evtData":{}}`, 523},
		{"identity of 120 chars", `{"type":"event","identity":"` + strings.Repeat("a", 120) + `","evtName":"x","evtData":{}}`,
			523},
		{"identity of 119 chars", `{"type":"event","identity":"` + strings.Repeat("a",
			119) + `","evtName":"x","evtData":{}}`, 0},
		{"identity is an object", `{"type":"event","identity":{"id":1},"evtName":"x","evtData":{}}`, 523},

		{"objectId with a space", `{"type":"event","objectId":"ab cd","evtName":"x","evtData":{}}`, 526},
		{"objectId is a number", `{"type":"event","objectId":12,"evtName":"x","evtData":{}}`, 526},
		{"objectId with identity still checked",
			`{"type":"event","identity":"u","objectId":"a/b","evtName":"x","evtData":{}}`, 526},

		{"ts zero", `{"type":"event","identity":"u","ts":0,"evtName":"x","evtData":{}}`, 525},
		{"ts negative", `{"type":"event","identity":"u","ts":-5,"evtName":"x","evtData":{}}`, 525},
		{"ts in milliseconds", `{"type":"event","identity":"u","ts":1700000000000,"evtName":"x","evtData":{}}`, 525},
		{"ts as ISO string", `{"type":"event","identity":"u","ts":"2026-01-01T00:00:00Z","evtName":"x","evtData":{}}`, 525},
		{"ts fractional", `{"type":"event","identity":"u","ts":1700000000.5,"evtName":"x","evtData":{}}`, 525},
		{"ts at the last 10-digit second", `{"type":"event","identity":"u","ts":9999999999,"evtName":"x","evtData":{}}`, 0},

		{"evtName missing", `{"type":"event","identity":"u","evtData":{}}`, 509},
		{"evtName empty", `{"type":"event","identity":"u","evtName":"","evtData":{}}`, 509},
		{"evtName a number", `{"type":"event","identity":"u","evtName":42,"evtData":{}}`, 509},
		{"restricted App Launched", `{"type":"event","identity":"u","evtName":"App Launched","evtData":{}}`, 513},
		{"restricted, other case", `{"type":"event","identity":"u","evtName":"notification viewed","evtData":{}}`, 513},
		{"restricted Web Page Viewed", `{"type":"event","identity":"u","evtName":"Web Page Viewed","evtData":{}}`, 513},
		{"restricted wzrk_d", `{"type":"event","identity":"u","evtName":"wzrk_d","evtData":{}}`, 513},
		{"discarded in dashboard", `{"type":"event","identity":"u","evtName":"old event","evtData":{}}`, 528},
		{"evtData an array", `{"type":"event","identity":"u","evtName":"x","evtData":[1,2]}`, 512},
		{"evtData a string", `{"type":"event","identity":"u","evtName":"x","evtData":"a=1"}`, 512},
		{"evtData at the limit", `{"type":"event","identity":"u","evtName":"x","evtData":{"a":1,"b":2,"c":3}}`, 0},
		{"evtData over the limit", `{"type":"event","identity":"u","evtName":"x","evtData":{"a":1,"b":2,"c":3,"d":4}}`, 522},

		{"profile",
			`{"type":"profile","identity":"u","profileData":{"Name":"Jo","Gender":"F","Email":"jo@example.com",` +
				`"Phone":"+4915112345678","Employed":"Y","Education":"College","Married":"N","Age":31}}`, 0},
		{"profile identity inside profileData", `{"type":"profile","objectId":"abc","profileData":{"identity":"u"}}`, 0},
		{"profile Identity inside profileData only", `{"type":"profile","profileData":{"Identity":"u"}}`, 0},
		{"profile without identity", `{"type":"profile","profileData":{"Name":"Jo"}}`, 523},
		{"profile Gender", `{"type":"profile","identity":"u","profileData":{"Gender":"Female"}}`, 514},
		{"profile Email", `{"type":"profile","identity":"u","profileData":{"Email":"not-an-email"}}`, 515},
		{"profile Phone without plus", `{"type":"profile","identity":"u","profileData":{"Phone":"223"}}`, 516},
		{"profile Phone with two pluses", `{"type":"profile","identity":"u","profileData":{"Phone":"+44+441234"}}`, 516},
		{"profile Employed", `{"type":"profile","identity":"u","profileData":{"Employed":"yes"}}`, 517},
		{"profile Education", `{"type":"profile","identity":"u","profileData":{"Education":"PhD"}}`, 518},
		{"profile Married", `{"type":"profile","identity":"u","profileData":{"Married":"true"}}`, 519},
		{"profile Age", `{"type":"profile","identity":"u","profileData":{"Age":"aa"}}`, 520},
		{"profile Age as digits", `{"type":"profile","identity":"u","profileData":{"Age":"31"}}`, 0},
		{"profile first failing field wins", `{"type":"profile","identity":"u","profileData":{"Age":"aa","Gender":"X"}}`,
			514},
		{"profile with ts zero", `{"type":"profile","identity":"u","ts":0,"profileData":{}}`, 525},

		{"token", `{"type":"token","objectId":"__g1","tokenData":{"id":"fcm-token","type":"fcm"}}`, 0},
		{"token chrome with keys",
			`{"type":"token","objectId":"__g1","tokenData":{"id":"https://push","type":"chrome","keys":{"p256dh":"k",` +
				`"auth":"a"}}}`, 0},
		{"token without objectId", `{"type":"token","identity":"u","tokenData":{"id":"t","type":"fcm"}}`, 530},
		{"token tokenData missing", `{"type":"token","objectId":"__g1"}`, 531},
		{"token id missing", `{"type":"token","objectId":"__g1","tokenData":{"type":"fcm"}}`, 532},
		{"token type missing", `{"type":"token","objectId":"__g1","tokenData":{"id":"t"}}`, 533},
		{"token type unknown", `{"type":"token","objectId":"__g1","tokenData":{"id":"t","type":"sms"}}`, 534},
		{"token chrome without keys", `{"type":"token","objectId":"__g1","tokenData":{"id":"t","type":"chrome"}}`, 535},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			batch, reqErr := validateUpload([]byte(`{"d":[`+tc.record+`]}`), testAccount(), testLimits)
			if reqErr != nil {
				t.Fatalf("expected a per-record answer, got request error %d %q (%s)", reqErr.status, reqErr.text, reqErr.diagnosis)
			}
			got := 0
			if len(batch.rejected) == 1 {
				got = batch.rejected[0].code
			}
			if got != tc.code || len(batch.accepted)+len(batch.rejected) != 1 {
				t.Fatalf("expected code %d, got %d (accepted %d, rejected %d)", tc.code, got, len(batch.accepted),
					len(batch.rejected))
			}
		})
	}
}

func TestRequireEvtDataMakesAMissingOneA512(t *testing.T) {
	limits := testLimits
	limits.requireEvtData = true
	batch, _ := validateUpload([]byte(`{"d":[{"type":"event","identity":"u","evtName":"x"}]}`), testAccount(), limits)
	if len(batch.rejected) != 1 || batch.rejected[0].code != 512 {
		t.Fatalf("expected one record rejected with 512, got %+v", batch.rejected)
	}
}

// many is an upload of n copies of one record.
func many(n int, rec string) string {
	return `{"d":[` + strings.TrimSuffix(strings.Repeat(rec+",", n), ",") + `]}`
}

func TestRequestLevelErrors(t *testing.T) {
	event := `{"type":"event","identity":"u","evtName":"x","evtData":{}}`
	token := `{"type":"token","objectId":"__g","tokenData":{"id":"t","type":"fcm"}}`
	cases := []struct {
		name, body, text string
	}{
		{"not JSON", `d=1`, "Malformed request"},
		{"truncated JSON", `{"d":[{"type":"event"`, "Malformed request"},
		{"JSON array", `[{"type":"event"}]`, "Malformed request"},
		{"no d", `{"data":[]}`, "Malformed request"},
		{"d not an array", `{"d":{"type":"event"}}`, "Malformed request"},
		{"invalid UTF-8", "{\"d\":[{\"type\":\"event\",\"identity\":\"\xff\"}]}", "Malformed request"},
		{"100000 nested arrays", `{"d":` + strings.Repeat("[", 100000), "Malformed request"},
		{"5000 nested objects", `{"d":[` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + "]}",
			"Malformed request"},
		{"1001 records", many(1001, event), "Too many records. Maximum allowed records per request is 1000"},
		{"101 tokens", many(101, token), "Too many records. Maximum allowed records per request is 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, reqErr := validateUpload([]byte(tc.body), testAccount(), testLimits)
			if reqErr == nil || reqErr.status != 400 || reqErr.text != tc.text {
				t.Fatalf("expected 400 %q, got %+v", tc.text, reqErr)
			}
			if reqErr.diagnosis == "" {
				t.Fatal("expected a diagnosis for humans")
			}
		})
	}
	t.Run("1000 records are fine", func(t *testing.T) {
		batch, reqErr := validateUpload([]byte(many(1000, event)), testAccount(), testLimits)
		if reqErr != nil || len(batch.accepted) != 1000 {
			t.Fatalf("expected 1000 accepted, got err %+v", reqErr)
		}
	})
}

func TestResponseStatusAndSkippedRecordNumbers(t *testing.T) {
	good := `{"type":"event","identity":"u","evtName":"x","evtData":{}}`
	bad := `{"type":"event","identity":"u","evtData":{}}`
	cases := []struct {
		records []string
		want    string
	}{
		{[]string{good, good}, `{"status":"success","processed":2,"unprocessed":[]}`},
		{[]string{good, bad},
			`{"status":"partial","processed":1,"unprocessed":[{"status":"fail","code":509,` +
				`"error":"Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. Skipped record number : 2",` +
				`"record":{"type":"event","identity":"u","evtData":{}}}]}`},
		{[]string{bad},
			`{"status":"fail","processed":0,"unprocessed":[{"status":"fail","code":509,` +
				`"error":"Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. Skipped record number : 1",` +
				`"record":{"type":"event","identity":"u","evtData":{}}}]}`},
		{nil, `{"status":"success","processed":0,"unprocessed":[]}`},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			batch, reqErr := validateUpload([]byte(`{"d":[`+strings.Join(tc.records, ",")+`]}`), testAccount(), testLimits)
			if reqErr != nil {
				t.Fatal(reqErr.text)
			}
			if got := string(appendUploadResponse(nil, batch)); got != tc.want {
				t.Fatalf("expected\n%s\ngot\n%s", tc.want, got)
			}
		})
	}
}

func TestWarningsExplainWhatCleverTapWouldNotSay(t *testing.T) {
	body := `{"d":[{"type":"event","identity":"u","evtName":"x","evtData":{"nested":{"a":1},"long":"` + strings.Repeat("v",
		600) + `"}},{"type":"event","identity":"u","ts":1700000000000,"evtName":"x"}]}`
	acct := testAccount()
	acct.EventPropertyLimit = 10
	batch, _ := validateUpload([]byte(body), acct, testLimits)
	joined := fmt.Sprint(batch.warnings)
	for _, want := range []string{"nested object", "600 bytes", "looks like milliseconds"} {
		if !strings.Contains(joined, want) {
			t.Errorf("expected a warning mentioning %q, got %s", want, joined)
		}
	}
}

// A string of epoch seconds is a valid ts: CleverTap's own Python example sends "%s" % int(time.time()) and
// expects nothing unprocessed; other strings are still 525.
func TestTimestampAsAStringOfSeconds(t *testing.T) {
	for _, c := range []struct {
		ts     string
		code   int
		stored int64
	}{
		{`"1700000000"`, 0, 1700000000},
		{`"1700000000000"`, clevertap.CodeTimestampInvalid, 0},
		{`" 1700000000"`, clevertap.CodeTimestampInvalid, 0},
		{`"1.7e9"`, clevertap.CodeTimestampInvalid, 0},
		{`"2026-01-01T00:00:00Z"`, clevertap.CodeTimestampInvalid, 0},
	} {
		body := `{"d":[{"type":"event","identity":"u","ts":` + c.ts + `,"evtName":"x","evtData":{}}]}`
		batch, reqErr := validateUpload([]byte(body), testAccount(), testLimits)
		if reqErr != nil {
			t.Fatal(reqErr)
		}
		switch {
		case c.code == 0 && (len(batch.accepted) != 1 || batch.accepted[0].TS != c.stored):
			t.Errorf("ts %s: expected accepted with ts %d, got %+v %+v", c.ts, c.stored, batch.accepted, batch.rejected)
		case c.code != 0 && (len(batch.rejected) != 1 || batch.rejected[0].code != c.code):
			t.Errorf("ts %s: expected code %d, got %+v", c.ts, c.code, batch.rejected)
		}
	}
}

// The 100-token limit holds for uploads of tokens alone; an upload mixing 101 tokens with profiles follows the
// 1000-record limit (as RudderStack sends them), unless TokenLimitInMixed says otherwise.
func TestTheTokenLimitAndMixedUploads(t *testing.T) {
	token := `{"type":"token","objectId":"__g","tokenData":{"id":"t","type":"fcm"}}`
	profile := `{"type":"profile","identity":"u","profileData":{"Name":"U"}}`
	mixed := `{"d":[` + strings.TrimSuffix(strings.TrimPrefix(many(101, token), `{"d":[`), `]}`) + "," + profile + "]}"
	if batch, reqErr := validateUpload([]byte(mixed), testAccount(), testLimits); reqErr != nil ||
		len(batch.accepted) != 102 {
		t.Fatalf("mixed upload: expected 102 records accepted, got %+v", reqErr)
	}
	strict := testLimits
	strict.tokenLimitInMixed = true
	if _, reqErr := validateUpload([]byte(mixed), testAccount(), strict); reqErr == nil ||
		reqErr.text != "Too many records. Maximum allowed records per request is 100" {
		t.Fatalf("with the limit on mixed uploads: expected the 400, got %+v", reqErr)
	}
}

// TestEveryRefusalHasADiagnosis: each per-record code CleverTap can answer comes with plain words for the sender.
func TestEveryRefusalHasADiagnosis(t *testing.T) {
	codes := []int{509, 512, 513, 514, 515, 516, 517, 518, 519, 520, 522, 523, 524, 525, 526, 528, 530, 531, 532, 533,
		534, 535}
	if len(codes) != len(clevertap.RecordCodes()) {
		t.Fatalf("the test lists %d codes, CleverTap's texts %d: list the new code here", len(codes),
			len(clevertap.RecordCodes()))
	}
	for _, code := range codes {
		if len(refusalDiagnosis[code]) < 20 {
			t.Errorf("code %d: diagnosis %q, want plain words saying what to fix", code, refusalDiagnosis[code])
		}
	}
}
