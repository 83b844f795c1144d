package service

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The hand-written answer is byte for byte what encoding/json writes for it.
func TestAnswerIsWrittenAsEncodingJSONWritesIt(t *testing.T) {
	if n := reflect.TypeFor[answer]().NumField(); n != 6 {
		t.Fatalf("answer has %d fields, appendJSON writes 6: write the new one there, and give it a row here", n)
	}
	for _, a := range []answer{
		{Status: "accepted", EventID: "e-1", Records: 1},
		{Status: "accepted", EventID: "e-2", Records: 3, Notes: []string{"a note", `<b> & "c"`}},
		{Status: "skipped", EventID: "e-3", Reason: "TEST is skipped", Notes: []string{}},
		{Status: "duplicate", EventID: "e-4", Reason: "event id already accepted; not sent again"},
		{Status: "error", Error: "expected a JSON object, got invalid JSON: expected ':' after a key, got '\\n'"},
		{Status: "error", Error: "bad UTF-8 \xff, a line separator \u2028, a tab \t, a NUL \x00"},
		{},
	} {
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.appendJSON(nil); string(got) != string(want) {
			t.Errorf("expected %s, got %s", want, got)
		}
	}
}

func FuzzAnswerJSON(f *testing.F) {
	f.Add("accepted", "e-1", 2, "", "note", "")
	f.Add("error", "", 0, "", "", "expected <x>, got \"y\"\n")
	f.Fuzz(func(t *testing.T, status, eventID string, records int, reason, note, errText string) {
		a := answer{Status: status, EventID: eventID, Records: records, Reason: reason, Error: errText}
		if note != "" {
			a.Notes = []string{note, note}
		}
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("expected %s, got %s", want, got)
		}
	})
}
