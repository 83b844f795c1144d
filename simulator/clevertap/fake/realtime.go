package fake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// Real-Time Counts, POST /1/now.json (https://developer.clevertap.com/docs/real-time-counts-api): the users active in
// the past five minutes, that is the profiles with an event that arrived in that window, and with the request's
// switches the splits of CleverTap's sample. The API records no sessions or browsers: session_source counts every user
// as "unavailable", and browser, os and device come from the platform of the user's devices.

const realTimeWindow = 5 * time.Minute

type nowRequest struct {
	UserType      bool `json:"user_type"`
	SessionSource bool `json:"session_source"`
	Browser       bool `json:"browser"`
	OS            bool `json:"os"`
	Device        bool `json:"device"`
	New           bool `json:"new"`
}

func (s *Server) handleRealTimeCounts(w http.ResponseWriter, r *http.Request, c *call) {
	acct, release, ok := s.admitRead(w, r, c)
	if !ok {
		return
	}
	defer release()
	body, ok := s.queryBody(w, r, c)
	if !ok {
		return
	}
	var req nowRequest
	if len(bytes.TrimSpace(body)) > 0 { // "An empty payload will return a real-time count of active users"
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			s.readFail(w, c, badQuery(textMalformed, "expected {\"user_type\",\"session_source\",\"browser\",\"os\","+
				"\"device\",\"new\"} booleans, all optional: %v", err))
			return
		}
	}
	now := s.opts.Now()
	active := s.store.ActiveProfiles(acct.ID, now.Add(-realTimeWindow))
	c.diagnose("%d profile(s) with an event received since %s", len(active),
		now.Add(-realTimeWindow).UTC().Format(time.RFC3339))
	var fresh []clevertap.Profile
	for _, p := range active {
		if !p.CreatedAt.Before(now.Add(-realTimeWindow)) {
			fresh = append(fresh, p)
		}
	}
	answer := realTimeAnswer{Status: "success", Count: len(active), LastProcessedTS: now.Unix()}
	if req.UserType {
		answer.UserType = &userTypes{New: len(fresh), Repeat: len(active) - len(fresh)}
		for _, p := range active {
			if store.Email(&p) != "" || store.Phone(&p) != "" || store.HasPushToken(&p) {
				answer.UserType.Addressable++
			}
			if _, ok := p.Events["Charged"]; ok {
				answer.UserType.Customer++
			}
		}
	}
	answer.realTimeSplits = s.realTimeSplits(req, active)
	if req.New {
		splits := s.realTimeSplits(nowRequest{SessionSource: true, Browser: true, OS: true, Device: true}, fresh)
		answer.New = &splits
	}
	out, _ := json.Marshal(answer)
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, out)
}

// realTimeAnswer is CleverTap's answer, its keys in the order of its sample.
type realTimeAnswer struct {
	Status   string     `json:"status"`
	Count    int        `json:"count"`
	UserType *userTypes `json:"user_type,omitempty"`
	realTimeSplits
	New             *realTimeSplits `json:"new,omitempty"`
	LastProcessedTS int64           `json:"last_processed_ts"`
}

type userTypes struct {
	New         int `json:"new"`
	Repeat      int `json:"repeat"`
	Addressable int `json:"addressable"`
	Customer    int `json:"customer"`
}

type realTimeSplits struct {
	SessionSource *sessionSources   `json:"session_source,omitempty"`
	Browser       *browsers         `json:"browser,omitempty"`
	OS            *operatingSystems `json:"os,omitempty"`
	Device        *devices          `json:"device,omitempty"`
}

type sessionSources struct {
	Direct      int `json:"direct"`
	Others      int `json:"others"`
	Search      int `json:"search"`
	Social      int `json:"social"`
	Email       int `json:"email"`
	Unavailable int `json:"unavailable"`
}

type browsers struct {
	Others    int `json:"others"`
	Firefox   int `json:"firefox"`
	Chrome    int `json:"chrome"`
	IE        int `json:"ie"`
	MobileApp int `json:"mobileapp"`
}

type operatingSystems struct {
	Others  int `json:"others"`
	Android int `json:"android"`
	IOS     int `json:"ios"`
	Windows int `json:"windows"`
	Mac     int `json:"mac"`
	Linux   int `json:"linux"`
}

type devices struct {
	Desktop int `json:"desktop"`
	Mobile  int `json:"mobile"`
	Tablet  int `json:"tablet"`
}

// realTimeSplits counts the profiles by what the request asks: every one's session source is "unavailable";
// browser, os and device follow the platform of its first device (a profile with none is not counted there).
func (s *Server) realTimeSplits(req nowRequest, profiles []clevertap.Profile) realTimeSplits {
	out := realTimeSplits{SessionSource: &sessionSources{Unavailable: len(profiles)}, Browser: &browsers{},
		OS: &operatingSystems{}, Device: &devices{}}
	for _, p := range profiles {
		if len(p.ObjectIDs) == 0 {
			continue
		}
		switch s.platformOf(&p, p.ObjectIDs[0]) {
		case "Android":
			out.Browser.MobileApp++
			out.OS.Android++
			out.Device.Mobile++
		case "iOS":
			out.Browser.MobileApp++
			out.OS.IOS++
			out.Device.Mobile++
		case "Windows":
			out.Browser.Others++
			out.OS.Windows++
			out.Device.Desktop++
		default:
			out.Browser.Others++
			out.OS.Others++
			out.Device.Desktop++
		}
	}
	if !req.SessionSource {
		out.SessionSource = nil
	}
	if !req.Browser {
		out.Browser = nil
	}
	if !req.OS {
		out.OS = nil
	}
	if !req.Device {
		out.Device = nil
	}
	return out
}
