package clevertap

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the accounts' time zones, also in images without a zoneinfo database
)

// Account is one CleverTap project as the fake knows it. The same object is read from the accounts YAML file
// and exchanged as JSON on the admin API.
type Account struct {
	// ID is sent by clients as X-CleverTap-Account-Id.
	ID string `json:"id" yaml:"id"`
	// Passcodes are the account-level passcodes; CleverTap accepts any of several.
	Passcodes []string `json:"passcodes" yaml:"passcodes"`
	// Region is the data centre the account lives in; calls on another region's host fail as unknown accounts.
	Region Region `json:"region" yaml:"region"`
	// Token is the account token that SDKs and attribution partners (AppsFlyer) use.
	Token string `json:"token,omitempty" yaml:"token,omitempty"`
	// DiscardedEvents are event names discarded in the dashboard; uploading one gives per-record code 528.
	DiscardedEvents []string `json:"discarded_events" yaml:"discarded_events"`
	// EventPropertyLimit is the per-event property limit; more properties give per-record code 522.
	EventPropertyLimit int `json:"event_property_limit" yaml:"event_property_limit"`
	// MaxConcurrentUploads overrides the server-wide limit of upload requests in flight for this account.
	MaxConcurrentUploads int `json:"max_concurrent_uploads,omitempty" yaml:"max_concurrent_uploads,omitempty"`
	// Timezone is the account's time zone (IANA name, default UTC): the read API's from/to dates and the ts of
	// its event records are in it, as a live in1 account shows (+05:30).
	Timezone string `json:"timezone,omitempty" yaml:"timezone,omitempty"`

	location *time.Location
}

// Location is the account's time zone.
func (a *Account) Location() *time.Location {
	if a.location == nil {
		return time.UTC
	}
	return a.location
}

// DefaultEventPropertyLimit is CleverTap's documented per-event property limit (older pages say 256; the 2026
// page says 100 by default and configurable per account, so it is per account here).
const DefaultEventPropertyLimit = 256

// DefaultAccounts is the account set loaded when no accounts file is given: one account per region and an
// EU sandbox account (docs/clevertap-api.md, "Accounts file").
func DefaultAccounts() []Account {
	accounts := make([]Account, 0, len(Regions)+1)
	for _, r := range Regions {
		upper := strings.ToUpper(string(r))
		accounts = append(accounts, Account{
			ID:        "SIM-" + upper + "-0001",
			Passcodes: []string{"sim-" + string(r) + "-pass"},
			Region:    r,
			Token:     "sim-" + string(r) + "-token",
		})
		if r == DefaultRegion {
			accounts = append(accounts, Account{
				ID:        "SIM-EU1-SBX1",
				Passcodes: []string{"sim-eu1-sbx-pass"},
				Region:    r,
				Token:     "sim-eu1-sbx-token",
			})
		}
	}
	for i := range accounts {
		accounts[i].Normalize()
	}
	return accounts
}

// Normalize fills the defaults of optional fields.
func (a *Account) Normalize() {
	a.Region = Region(strings.ToLower(string(a.Region)))
	if a.EventPropertyLimit == 0 {
		a.EventPropertyLimit = DefaultEventPropertyLimit
	}
	if a.DiscardedEvents == nil {
		a.DiscardedEvents = []string{}
	}
	a.location, _ = time.LoadLocation(a.Timezone) // Validate has checked it; "" is UTC
}

// Validate names the first field that is wrong, what was expected and what arrived.
func (a Account) Validate() error {
	if strings.TrimSpace(a.ID) == "" {
		return errors.New("id: expected a non-empty account id such as SIM-EU1-0001, got an empty string")
	}
	if len(a.Passcodes) == 0 {
		return fmt.Errorf("passcodes: expected at least one passcode for account %s, got none", a.ID)
	}
	for i, p := range a.Passcodes {
		if p == "" {
			return fmt.Errorf("passcodes[%d]: expected a non-empty passcode for account %s", i, a.ID)
		}
	}
	if !Region(strings.ToLower(string(a.Region))).Valid() {
		return fmt.Errorf("region: expected one of %s for account %s, got %q", RegionList(), a.ID, a.Region)
	}
	if a.EventPropertyLimit < 0 {
		return fmt.Errorf("event_property_limit: expected a positive number for account %s, got %d", a.ID,
			a.EventPropertyLimit)
	}
	if _, err := time.LoadLocation(a.Timezone); err != nil {
		return fmt.Errorf("timezone: expected an IANA time zone such as Asia/Kolkata or UTC for account %s, got %q",
			a.ID, a.Timezone)
	}
	if a.MaxConcurrentUploads < 0 {
		return fmt.Errorf(
			"max_concurrent_uploads: expected zero (server default) or a positive number for account %s, got %d", a.ID,
			a.MaxConcurrentUploads)
	}
	return nil
}

// AcceptsPasscode compares in constant time so the fake does not teach clients a timing oracle.
func (a *Account) AcceptsPasscode(passcode string) bool {
	ok := 0
	for _, p := range a.Passcodes {
		ok |= subtle.ConstantTimeCompare([]byte(p), []byte(passcode))
	}
	return ok == 1
}

func (a *Account) Discards(name string) bool {
	for _, d := range a.DiscardedEvents {
		if strings.EqualFold(d, name) {
			return true
		}
	}
	return false
}
