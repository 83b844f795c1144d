package fake

import (
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

func TestResolveRoute(t *testing.T) {
	cases := []struct {
		host, path  string
		region      clevertap.Region
		apiPath     string
		unknownHost bool
		noted       bool
	}{
		{"api.clevertap.com", "/1/upload", "eu1", "/1/upload", false, false},
		{"eu1.api.clevertap.com", "/1/upload", "eu1", "/1/upload", false, false},
		{"EU1.API.CLEVERTAP.COM:443", "/1/upload", "eu1", "/1/upload", false, false},
		{"in1.api.clevertap.com", "/1/upload", "in1", "/1/upload", false, false},
		{"sg1.api.clevertap.com", "/1/upload", "sg1", "/1/upload", false, false},
		{"us1.api.clevertap.com", "/1/upload", "us1", "/1/upload", false, false},
		{"aps3.api.clevertap.com", "/1/upload", "aps3", "/1/upload", false, false},
		{"mec1.api.clevertap.com", "/1/upload", "mec1", "/1/upload", false, false},
		{"sk1.api.clevertap.com", "/attribution", "sk1", "/attribution", false, false},
		{"in.api.clevertap.com", "/1/upload", "in1", "/1/upload", false, true},
		{"xx9.api.clevertap.com", "/1/upload", "", "/1/upload", true, false},
		{"127.0.0.1:8081", "/1/upload", "eu1", "/1/upload", false, false},
		{"127.0.0.1:8081", "/mec1/1/upload", "mec1", "/1/upload", false, false},
		{"simulator:8081", "/aps3/attribution", "aps3", "/attribution", false, false},
		{"127.0.0.1:8081", "/zz1/1/upload", "eu1", "/zz1/1/upload", false, false},
		// a region prefix on a real CleverTap host is not stripped: the real service would 404 it
		{"in1.api.clevertap.com", "/us1/1/upload", "in1", "/us1/1/upload", false, false},
	}
	for _, tc := range cases {
		got := resolveRoute(tc.host, tc.path)
		if got.region != tc.region || got.path != tc.apiPath || (got.unknownHost != "") != tc.unknownHost ||
			(got.note != "") != tc.noted {
			t.Errorf("%s%s: expected region %q path %q unknownHost=%v noted=%v, got %+v", tc.host, tc.path, tc.region,
				tc.apiPath, tc.unknownHost, tc.noted, got)
		}
	}
}

func TestParseRegion(t *testing.T) {
	if r, err := clevertap.ParseRegion("MEC1"); err != nil || r != "mec1" {
		t.Fatalf("expected mec1, got %q %v", r, err)
	}
	if _, err := clevertap.ParseRegion("eu"); err == nil ||
		err.Error() != `unknown region "eu": expected one of eu1, in1, sg1, us1, aps3, mec1, sk1` {
		t.Fatalf("expected an error listing the regions, got %v", err)
	}
}
