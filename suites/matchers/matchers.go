// Package matchers are Gomega matchers for the harness: a scenario result that passed, and CleverTap records
// matching expectations, with failure messages that show expected and received side by side and the nearest
// miss for each expectation that found no record.
package matchers

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/types"

	"github.com/ctharness/ctharness/scenarios"
)

// Pass succeeds for a scenario result without problems.
func Pass() types.GomegaMatcher { return passMatcher{} }

type passMatcher struct{}

func (passMatcher) Match(actual any) (bool, error) {
	r, ok := actual.(scenarios.Result)
	if !ok {
		return false, fmt.Errorf("Pass expects a scenarios.Result, got %T", actual)
	}
	return r.Passed, nil
}

func (passMatcher) FailureMessage(actual any) string {
	r := actual.(scenarios.Result)
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s × %s (run %s) failed:\n", r.Scenario, r.Source, r.Run)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  ! %s\n", p)
	}
	b.WriteString(sideBySide(r.Expected, r.Received))
	return b.String()
}

func (passMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("expected scenario %s × %s to fail, it passed", actual.(scenarios.Result).Scenario,
		actual.(scenarios.Result).Source)
}

// HaveRecords succeeds when the received CleverTap records are exactly the expected ones, in any order;
// account is the account of expectations that name none.
func HaveRecords(account string, expected ...scenarios.Record) types.GomegaMatcher {
	return &recordsMatcher{account: account, expected: expected}
}

type recordsMatcher struct {
	account  string
	expected []scenarios.Record
	problems []string
}

func (m *recordsMatcher) Match(actual any) (bool, error) {
	got, ok := actual.([]scenarios.Received)
	if !ok {
		return false, fmt.Errorf("HaveRecords expects []scenarios.Received, got %T", actual)
	}
	m.problems = scenarios.MatchRecords(m.expected, got, m.account)
	return len(m.problems) == 0, nil
}

func (m *recordsMatcher) FailureMessage(actual any) string {
	got := actual.([]scenarios.Received)
	var exp, rec []string
	for _, e := range m.expected {
		exp = append(exp, e.String())
	}
	for _, r := range got {
		rec = append(rec, r.String())
	}
	return "CleverTap records differ:\n  ! " + strings.Join(m.problems, "\n  ! ") + "\n" + sideBySide(exp, rec)
}

func (m *recordsMatcher) NegatedFailureMessage(any) string {
	return "expected the CleverTap records not to match, they did"
}

func sideBySide(expected, received []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-70s | %s\n", "expected", "received")
	for i := 0; i < max(len(expected), len(received)); i++ {
		e, r := "", ""
		if i < len(expected) {
			e = expected[i]
		}
		if i < len(received) {
			r = received[i]
		}
		fmt.Fprintf(&b, "  %-70s | %s\n", e, r)
	}
	return b.String()
}
