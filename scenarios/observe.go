package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
)

// Writing expectations (`simulator run --write-expect`), the way golden-file tools do: play the story, take what
// arrived as its expectations, and mark the file unreviewed (reviewed: false) so that it cannot pass until a
// human has read the diff and removed the mark.

// Observed is what one run produced, in the story's own ids.
type Observed struct {
	CleverTap   []Record
	Piano       []PianoEvent
	DeadLetters []DeadLetter
}

// Observe plays a scenario through one source and returns what arrived instead of comparing it.
func Observe(ctx context.Context, s *Scenario, source string, t Target) (Observed, Result) {
	var seen Observed
	res := play(ctx, s, source, t, &seen)
	return seen, res
}

// observe reads everything the run produced once the relay has delivered it (or the settle window passed).
func (r *run) observe(ctx context.Context, into *Observed) error {
	deadline := time.Now().Add(r.target.Timeout)
	if err := r.settle(ctx, deadline); err != nil {
		return err
	}
	if !r.settled {
		field, id := r.primaryKey()
		watch := clevertap.WaitRequest{Count: 1 << 20, TimeoutMS: int(r.target.Settle.Milliseconds())}
		if field == "objectId" {
			watch.ObjectID = id
		} else {
			watch.Identity = id
		}
		if _, err := r.ct.Wait(ctx, watch); err != nil && !strings.Contains(err.Error(), "timed out") {
			return err
		}
	}
	received, err := r.fetch(ctx)
	if err != nil {
		return err
	}
	account := r.id(r.account())
	for _, got := range received {
		rec := Record{Identity: r.storyID(str(got.Record["identity"])), ObjectID: r.storyID(str(got.Record["objectId"]))}
		dataKey := "evtData"
		if got.Record["type"] == "profile" {
			rec.Profile, dataKey = true, "profileData"
		} else {
			rec.Event = str(got.Record["evtName"])
		}
		if rec.Identity != "" {
			rec.ObjectID = ""
		}
		if got.Account != account {
			rec.Account, rec.Region = r.storyID(got.Account), got.Region
		}
		if data, ok := got.Record[dataKey].(map[string]any); ok {
			rec.Data = map[string]any{}
			for k, v := range data {
				if s, isString := v.(string); isString {
					v = r.storyID(s)
				}
				rec.Data[k] = v
			}
		}
		into.CleverTap = append(into.CleverTap, rec)
	}
	if idclient := r.user.ATInternetID; idclient != "" {
		hits, err := piano.ReadHits(ctx, r.target.HTTP, r.target.SimulatorURL)
		if err != nil {
			return err
		}
		for _, h := range hits {
			if h.IDClient != idclient {
				continue
			}
			ev := PianoEvent{Event: h.Name, Ignored: h.Ignored}
			if h.Site != "100001" {
				ev.Site = h.Site
			}
			_ = json.Unmarshal(h.Data, &ev.Data)
			into.Piano = append(into.Piano, ev)
		}
	}
	if r.ownService {
		return nil // the user's service keeps no dead letters the runner can read
	}
	if letters, err := r.relayAdmin().DeadLetters(ctx, r.source); err == nil {
		for _, d := range letters {
			for _, id := range r.ids() {
				if strings.Contains(string(d.Payload), id) {
					into.DeadLetters = append(into.DeadLetters, DeadLetter{EventType: d.EventType, Status: d.Status,
						Code: d.Code})
					break
				}
			}
		}
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// storyID turns a run's id back into the story's (ct-me_1a2b3c4d → ct-me).
func (r *run) storyID(v string) string {
	for story, renamed := range r.ns {
		if v == renamed {
			return story
		}
	}
	return v
}

// Stable keeps of two observations of the same story what both runs produced alike: records paired in order,
// with only the data fields of equal value (a field that changes from run to run cannot be an expectation).
func Stable(a, b Observed) Observed {
	out := Observed{DeadLetters: a.DeadLetters}
	used := make([]bool, len(b.CleverTap))
	for _, ra := range a.CleverTap {
		for j, rb := range b.CleverTap {
			if used[j] || ra.Event != rb.Event || ra.Profile != rb.Profile || ra.Identity != rb.Identity ||
				ra.ObjectID != rb.ObjectID || ra.Account != rb.Account {
				continue
			}
			used[j] = true
			rec := ra
			rec.Data = map[string]any{}
			for k, v := range ra.Data {
				if reflect.DeepEqual(v, rb.Data[k]) {
					rec.Data[k] = v
				}
			}
			out.CleverTap = append(out.CleverTap, rec)
			break
		}
	}
	for _, pa := range a.Piano {
		for _, pb := range b.Piano {
			if pa.Event == pb.Event && pa.Site == pb.Site && pa.Ignored == pb.Ignored {
				ev := pa
				ev.Data = nil
				for k, v := range pa.Data {
					if reflect.DeepEqual(v, pb.Data[k]) {
						if ev.Data == nil {
							ev.Data = map[string]any{}
						}
						ev.Data[k] = v
					}
				}
				out.Piano = append(out.Piano, ev)
				break
			}
		}
	}
	return out
}

// WriteExpectations replaces the expectations of the given sources in a scenario file with what was observed
// and marks the file reviewed: false. Comments and the rest of the file stay.
func WriteExpectations(path string, bySource map[string]Observed) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	top := doc.Content[0]
	setKey(top, "reviewed", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false",
		LineComment: "written by simulator run --write-expect: review the diff, then remove this line"}, true)
	expect := mappingValue(top, "expect")
	if expect == nil {
		expect = &yaml.Node{Kind: yaml.MappingNode}
		setKey(top, "expect", expect, false)
	}
	for _, src := range sortedKeys(bySource) {
		obs := bySource[src]
		e := &yaml.Node{Kind: yaml.MappingNode}
		if err := appendList(e, "clevertap", obs.CleverTap, true); err != nil {
			return err
		}
		if err := appendList(e, "piano", obs.Piano, false); err != nil {
			return err
		}
		if err := appendList(e, "deadletters", obs.DeadLetters, false); err != nil {
			return err
		}
		setKey(expect, src, e, false)
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// appendList adds key: [items] to a mapping, one item a line in flow style as hand-written scenarios do.
func appendList[T any](m *yaml.Node, key string, items []T, always bool) error {
	if len(items) == 0 && !always {
		return nil
	}
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, it := range items {
		var n yaml.Node
		if err := n.Encode(it); err != nil {
			return err
		}
		n.Style = yaml.FlowStyle
		list.Content = append(list.Content, &n)
	}
	if len(items) == 0 {
		list.Style = yaml.FlowStyle
	}
	setKey(m, key, list, false)
	return nil
}

// setKey sets key: value in a mapping, in place when the key exists, else at the end (or first).
func setKey(m *yaml.Node, key string, value *yaml.Node, first bool) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = value
			return
		}
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	if first {
		m.Content = append([]*yaml.Node{k, value}, m.Content...)
		return
	}
	m.Content = append(m.Content, k, value)
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
