package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/inspector"
	"github.com/ctharness/ctharness/simulator/piano"
)

// newTailCmd follows a simulator's live stream in a terminal, one line per request, as `stripe listen` does.
func newTailCmd(getenv func(string) string) *cobra.Command {
	var (
		simURL, account, outcome, region, color string
		asJSON                                  bool
		count                                   int
		reconnectFor                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print each request to the fake CleverTap and Piano as it arrives (event names, codes, diagnosis)",
		Long: `tail follows the simulator's live stream (/_sim/stream, the one the inspector's page reads) and prints one
line per request as it arrives: time, region, account, endpoint, status and outcome, records kept of sent, the
event names, each refused record's code and CleverTap's text, and the simulator's diagnosis. Piano calls get a
line too (site, hits kept and ignored, event names). Colour when stdout is a terminal (NO_COLOR turns it off).

When the stream is lost (the simulator restarts) tail reconnects for --reconnect-for and prints what it missed;
it exits 3 when the simulator cannot be reached, 0 on Ctrl-C or after --count requests.`,
		Args: cobra.NoArgs,
		Example: `  simulator tail
  simulator tail --account SIM-EU1-0001 --outcome partial
  simulator tail --json --color never`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outcome != "" && !slices.Contains(outcomes(), outcome) {
				return cli.Usagef("--outcome: expected one of %s, got %q", strings.Join(outcomes(), " "), outcome)
			}
			useColor, err := wantColor(color, cmd.OutOrStdout(), getenv)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"account": account, "outcome": outcome, "region": region} {
				if v != "" {
					q.Set(k, v)
				}
			}
			t := &tailer{out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), json: asJSON, color: useColor,
				count: count, reconnectFor: reconnectFor}
			return t.run(cmd.Context(), simURL, q)
		},
	}
	f := cmd.Flags()
	f.StringVar(&simURL, "url", defaultSimulatorURL, "simulator base URL")
	f.StringVar(&account, "account", "", "only this CleverTap account's requests")
	f.StringVar(&outcome, "outcome", "", "only requests with this outcome: "+strings.Join(outcomes(), ", "))
	f.StringVar(&region, "region", "", "only this region's requests (eu1, in1, us1, …)")
	f.BoolVar(&asJSON, "json", false, "one JSON object per line: the journal entry or Piano call, with \"kind\"")
	f.StringVar(&color, "color", "auto", "colour the lines: auto (when stdout is a terminal), always, never")
	f.IntVar(&count, "count", 0, "exit after this many requests (0: until interrupted)")
	f.DurationVar(&reconnectFor, "reconnect-for", 30*time.Second,
		"how long to keep reconnecting when the stream is lost (0: exit at once)")
	completeWith(cmd, "outcome", outcomes()...)
	completeWith(cmd, "region", regionNames()...)
	completeWith(cmd, "color", "auto", "always", "never")
	return cmd
}

// completeWith makes shell completion offer these values for a flag.
func completeWith(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// regionNames are CleverTap's regions, for completion.
func regionNames() []string {
	var names []string
	for _, r := range clevertap.Regions {
		names = append(names, string(r))
	}
	return names
}

// outcomes are the journal's outcomes, for --outcome's check and help.
func outcomes() []string {
	var names []string
	for _, o := range clevertap.Outcomes() {
		names = append(names, string(o))
	}
	return names
}

// wantColor decides on ANSI colour: auto means stdout is a terminal, NO_COLOR is unset and TERM is not dumb.
func wantColor(mode string, out io.Writer, getenv func(string) string) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		f, ok := out.(*os.File)
		if !ok || getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
			return false, nil
		}
		st, err := f.Stat()
		return err == nil && st.Mode()&os.ModeCharDevice != 0, nil
	default:
		return false, cli.Usagef("--color: expected auto, always or never, got %q", mode)
	}
}

// tailer prints the stream and reconnects when it is lost, resuming after the last event it printed.
type tailer struct {
	out, errOut  io.Writer
	json, color  bool
	count        int
	reconnectFor time.Duration

	printed int
	lastID  string
}

var errEnough = errors.New("printed --count requests")

func (t *tailer) run(ctx context.Context, simURL string, q url.Values) error {
	client := inspector.FollowClient()
	var lostAt time.Time // zero while connected
	everConnected := false
	for {
		if t.lastID != "" {
			q.Set("since", t.lastID)
		}
		err := inspector.Follow(ctx, client, simURL, q, func() {
			if !everConnected {
				fmt.Fprintf(t.errOut, "following %s/_sim/stream (Ctrl-C to stop)\n", strings.TrimSuffix(simURL, "/"))
			} else {
				fmt.Fprintln(t.errOut, "reconnected; what came meanwhile follows")
			}
			everConnected, lostAt = true, time.Time{}
		}, t.print)
		switch {
		case errors.Is(err, errEnough) || ctx.Err() != nil:
			return nil
		case !everConnected && !errors.Is(err, inspector.ErrStreamEnded):
			return cli.Unreachable(fmt.Errorf("no simulator stream at %s: %w", simURL, err))
		}
		if lostAt.IsZero() {
			lostAt = time.Now()
			if t.reconnectFor > 0 {
				fmt.Fprintf(t.errOut, "lost the stream (%v); reconnecting for %s\n", err, t.reconnectFor)
			}
		}
		if time.Since(lostAt) >= t.reconnectFor {
			return cli.Unreachable(fmt.Errorf("lost the simulator's stream at %s: %w", simURL, err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (t *tailer) print(ev inspector.StreamEvent) error {
	switch {
	case ev.CleverTap != nil:
		t.lastID = ev.ID
		if t.json {
			fmt.Fprintln(t.out, withKind("clevertap", ev.Data))
		} else {
			fmt.Fprintln(t.out, t.requestLine(ev.CleverTap))
		}
	case ev.Piano != nil:
		if t.json {
			fmt.Fprintln(t.out, withKind("piano", ev.Data))
		} else {
			fmt.Fprintln(t.out, t.pianoLine(ev.Piano))
		}
	case ev.Kind == inspector.Unreadable:
		if ev.ID != "" {
			t.lastID = ev.ID // resumed after, so a reconnect does not meet it again
		}
		fmt.Fprintf(t.errOut, "tail: %s\n", clip.Printable(fmt.Sprint(ev.Note["reason"])))
		return nil
	default:
		fmt.Fprintf(t.errOut, "the simulator says (%s): %s\n", clip.Printable(ev.Kind),
			clip.Printable(fmt.Sprint(ev.Note["reason"])))
		return nil
	}
	t.printed++
	if t.count > 0 && t.printed >= t.count {
		return errEnough
	}
	return nil
}

// withKind puts "kind" first in an event's JSON object, for jq.
func withKind(kind string, data json.RawMessage) string {
	rest := strings.TrimPrefix(strings.TrimSpace(string(data)), "{")
	if rest == "}" {
		return `{"kind":"` + kind + `"}`
	}
	return `{"kind":"` + kind + `",` + rest
}

const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

func (t *tailer) paint(code, s string) string {
	if !t.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

func outcomeColour(o clevertap.Outcome) string {
	switch o {
	case clevertap.OutcomeAccepted:
		return ansiGreen
	case clevertap.OutcomePartial, clevertap.OutcomePending:
		return ansiYellow
	default:
		return ansiRed
	}
}

// requestLine is one CleverTap request: time region account endpoint status outcome kept/sent names, then each
// refused record's index, code and text, then the first diagnosis.
func (t *tailer) requestLine(e *clevertap.JournalEntry) string {
	region := clip.Printable(string(e.Region))
	if region == "" {
		region = "-"
	}
	account := clip.Printable(e.Account)
	if account == "" {
		account = "-"
	}
	endpoint := e.Endpoint
	if endpoint == "unknown" || endpoint == "" {
		endpoint = e.Method + " " + e.Path
	}
	endpoint = clip.Printable(endpoint)
	parts := []string{t.paint(ansiDim, e.ReceivedAt.Local().Format("15:04:05.000")), region, account, endpoint,
		t.paint(outcomeColour(e.Outcome), fmt.Sprintf("%d %s", e.Status, e.Outcome))}
	diagnosis := ""
	if r := e.Records; r != nil {
		parts = append(parts, fmt.Sprintf("%d/%d", r.Processed, r.Total))
		for _, u := range r.Unprocessed {
			parts = append(parts, t.paint(ansiRed, fmt.Sprintf("#%d %d %q", u.Index+1, u.Code, clip.Printable(u.Error))))
			if diagnosis == "" {
				diagnosis = u.Diagnosis
			}
		}
	}
	if names := eventNames(e.RequestBody); names != "" {
		parts = append(parts, t.paint(ansiCyan, clip.Printable(names)))
	}
	if diagnosis == "" && len(e.Diagnosis) > 0 {
		diagnosis = e.Diagnosis[0]
	}
	if e.Fault != "" {
		parts = append(parts, t.paint(ansiYellow, "fault "+clip.Printable(e.Fault)))
	}
	if diagnosis != "" {
		parts = append(parts, "— "+t.paint(ansiYellow, clip.Printable(diagnosis)))
	}
	return strings.Join(parts, "  ")
}

// eventNames lists an upload's records as names (an event's evtName, "profile" for a profile), five at most.
func eventNames(body string) string {
	if body == "" {
		return ""
	}
	var upload struct {
		D []struct {
			Type    string `json:"type"`
			EvtName any    `json:"evtName"`
		} `json:"d"`
	}
	if json.Unmarshal([]byte(body), &upload) != nil { // not an upload, or cut at 16 KiB
		return ""
	}
	var names []string
	for _, r := range upload.D {
		switch {
		case r.Type == "profile":
			names = append(names, "profile")
		case r.EvtName == nil || r.EvtName == "":
			names = append(names, "(no evtName)")
		default:
			names = append(names, fmt.Sprint(r.EvtName))
		}
	}
	return shortList(names, 0)
}

// shortList is the first names, each clipped, and how many more there are (omitted: more not even listed).
func shortList(names []string, omitted int) string {
	const most = 5
	shown := make([]string, 0, most)
	for _, n := range names[:min(len(names), most)] {
		shown = append(shown, clip.Text(n, 60))
	}
	if more := len(names) - len(shown) + omitted; more > 0 {
		return strings.Join(shown, ", ") + fmt.Sprintf(" +%d", more)
	}
	return strings.Join(shown, ", ")
}

// pianoLine is one Piano call: time "piano" site path status kept/ignored names, then the first diagnosis.
func (t *tailer) pianoLine(a *piano.Activity) string {
	r := a.Request
	site := clip.Printable(r.Site)
	if site == "" {
		site = "-"
	}
	status := ansiGreen
	if r.Status >= 300 || r.Ignored > 0 {
		status = ansiYellow
	}
	parts := []string{t.paint(ansiDim, r.ReceivedAt.Local().Format("15:04:05.000")), "piano", "site " + site,
		clip.Printable(r.Method + " " + r.Path), t.paint(status, fmt.Sprintf("%d", r.Status)),
		fmt.Sprintf("%d kept, %d ignored", r.Accepted, r.Ignored)}
	var names []string
	reason := ""
	for _, h := range a.Hits {
		names = append(names, h.Name)
		if h.Ignored && reason == "" {
			reason = clip.Text(h.Name, 60) + " ignored: " + h.Reason
		}
	}
	if len(names) > 0 {
		parts = append(parts, t.paint(ansiCyan, clip.Printable(shortList(names, a.HitsOmitted))))
	}
	if reason == "" && len(r.Diagnosis) > 0 {
		reason = r.Diagnosis[0]
	}
	if reason != "" {
		parts = append(parts, "— "+t.paint(ansiYellow, clip.Printable(clip.Text(reason, 300))))
	}
	return strings.Join(parts, "  ")
}
