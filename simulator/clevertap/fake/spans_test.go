package fake

import (
	"slices"
	"testing"
)

func TestLocateRecords(t *testing.T) {
	cases := []struct {
		body string
		want []string
	}{
		{`{"d":[{"a":1},{"b":2}]}`, []string{`{"a":1}`, `{"b":2}`}},
		{` { "x" : {"d":[9]} , "d" : [ {"a" : "]\"}{"} , 2 , "s" , [1,[2]] , null ] } `, []string{`{"a" : "]\"}{"}`, `2`,
			`"s"`, `[1,[2]]`, `null`}},
		{`{"\u0064":[true]}`, []string{`true`}},
		{`{"d":[]}`, nil},
		{"{\"d\":[\n  {\"type\":\"event\"}\n]}", []string{`{"type":"event"}`}},
		{`{"e":"d","d":[-1.5e3]}`, []string{`-1.5e3`}},
	}
	for _, tc := range cases {
		var got []string
		for _, s := range locateRecords([]byte(tc.body)) {
			got = append(got, string(s.of([]byte(tc.body))))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: expected %q, got %q", tc.body, tc.want, got)
		}
	}
}

// With duplicate "d" keys the first one counts, for the parser and the locator alike.
func TestDuplicateDKeysUseTheFirst(t *testing.T) {
	batch, reqErr := validateUpload([]byte(
		`{"d":[{"type":"event","identity":"u","evtName":"first","evtData":{}}],"d":[1,2,3]}`), testAccount(), testLimits)
	if reqErr != nil || batch.total != 1 || batch.accepted[0].Name != "first" {
		t.Fatalf("expected the first d with one record, got %+v %+v", batch, reqErr)
	}
}

func TestRecordsAreEchoedAsUploaded(t *testing.T) {
	rec := `{"type":"event", "identity":"u", "evtName":"x", "evtData":{"s":"\u00e9\n"}, "ts": 1.7e9}`
	batch, _ := validateUpload([]byte(`{"d":[`+rec+`]}`), testAccount(), testLimits)
	if len(batch.accepted) != 1 {
		t.Fatalf("expected the record accepted (1.7e9 is a whole number of seconds), got %+v", batch.rejected)
	}
	if got := string(batch.accepted[0].Raw); got != rec {
		t.Fatalf("expected the record byte for byte, got %s", got)
	}
}
