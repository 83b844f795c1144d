package load

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
)

// The emitters render each event type once for a placeholder user and event id; every webhook of the load is
// then the template with the placeholders replaced, so making one costs a few appends rather than a story.
const (
	userToken  = "LOADUSERTOKEN0000"
	eventToken = "LOADEVENTTOKEN000"
)

// template is one event type's body cut at the placeholders.
type template struct {
	parts  [][]byte // literal text between placeholders
	fills  []byte   // 'u' or 'e' after each part but the last
	method string
	event  string
}

type generator struct {
	o         Options
	templates []template
	header    http.Header
	policy    sources.Policy
	uuidSeed  uint64 // with EventIDs uuid: the run's starting point, so that reruns are not duplicates
}

func newGenerator(o Options) (*generator, error) {
	g := &generator{o: o, uuidSeed: lifecycle.Seed(o.RunID)}
	u := lifecycle.User{AppUserID: userToken, CleverTapID: userToken, CustomerUserID: userToken, ATInternetID: userToken,
		AppsFlyerID: eventToken, Email: userToken + "@example.com", Country: "US"}
	at := time.Now().UTC().Truncate(time.Second)
	emitter, err := vendors.Lookup(o.Source)
	if err != nil {
		return nil, err
	}
	g.header, g.policy = emitter.Delivery(o.Credential, nil)
	for _, event := range o.Events {
		w, err := emitter.Emit(event, sources.Single{User: u, At: at})
		if err != nil {
			return nil, fmt.Errorf("event %q: %w", event, err)
		}
		if w.Body == nil {
			return nil, fmt.Errorf("event %q: the %s emitter sends it without a body; load sends POST bodies only", event,
				o.Source)
		}
		body := w.Body
		if w.EventID != "" && w.EventID != eventToken { // AppsFlyer's event id is derived, not in the body
			body = bytes.ReplaceAll(body, []byte(w.EventID), []byte(eventToken))
		}
		t := cut(body)
		if !bytes.Contains(body, []byte(eventToken)) {
			return nil, fmt.Errorf("event %q: the %s webhook carries no event id to vary; every webhook would be a duplicate",
				event, o.Source)
		}
		t.method, t.event = w.Method, event
		g.templates = append(g.templates, t)
	}
	return g, nil
}

// cut splits a body at the placeholders.
func cut(body []byte) template {
	var t template
	for {
		iu, ie := bytes.Index(body, []byte(userToken)), bytes.Index(body, []byte(eventToken))
		if iu < 0 && ie < 0 {
			t.parts = append(t.parts, body)
			return t
		}
		if iu < 0 || (ie >= 0 && ie < iu) {
			t.parts, t.fills, body = append(t.parts, body[:ie]), append(t.fills, 'e'), body[ie+len(eventToken):]
			continue
		}
		t.parts, t.fills, body = append(t.parts, body[:iu]), append(t.fills, 'u'), body[iu+len(userToken):]
	}
}

// user is the user of webhook seq: load-<run>-u<n>, cycling through Users (or one per webhook).
func (g *generator) user(seq int) string {
	n := seq
	if g.o.Users > 0 {
		n = seq % g.o.Users
	}
	return "load-" + g.o.RunID + "-u" + strconv.Itoa(n)
}

// eventID is the vendor's event id of webhook seq: load-<run>-e<seq>, or a UUID's shape made of two mixes of the
// run and seq. The first half alone is a bijection of seq (splitmix64's finalizer), so no two webhooks of a run
// share an id.
func (g *generator) eventID(seq int) string {
	if g.o.EventIDs != IDsUUID {
		return "load-" + g.o.RunID + "-e" + strconv.Itoa(seq)
	}
	hi := mix64(g.uuidSeed + uint64(seq))
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], mix64(hi^g.uuidSeed))
	return lifecycle.FormatUUID(b)
}

// mix64 is splitmix64's finalizer: a bijection of uint64 that scatters neighbouring inputs.
func mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// webhook builds webhook seq.
func (g *generator) webhook(seq int) sources.Webhook {
	t := &g.templates[seq%len(g.templates)]
	user, id := g.user(seq), g.eventID(seq)
	size := len(t.fills) * max(len(user), len(id))
	for _, p := range t.parts {
		size += len(p)
	}
	body := make([]byte, 0, size)
	for i, p := range t.parts {
		body = append(body, p...)
		if i < len(t.fills) {
			if t.fills[i] == 'u' {
				body = append(body, user...)
			} else {
				body = append(body, id...)
			}
		}
	}
	return sources.Webhook{Source: g.o.Source, EventType: t.event, EventID: id, Method: t.method, Body: body,
		Header: g.header, User: user}
}
