package fake

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// accountBook is the concurrent registry of accounts, indexed by id and by token.
type accountBook struct {
	mu      sync.RWMutex
	byID    map[string]*clevertap.Account
	byToken map[string]*clevertap.Account
}

func newAccountBook(accounts []clevertap.Account) (*accountBook, error) {
	b := &accountBook{byID: map[string]*clevertap.Account{}, byToken: map[string]*clevertap.Account{}}
	for i, a := range accounts {
		if err := b.put(a); err != nil {
			return nil, fmt.Errorf("accounts[%d]: %w", i, err)
		}
	}
	return b, nil
}

// put creates or replaces an account after validating it.
func (b *accountBook) put(a clevertap.Account) error {
	if err := a.Validate(); err != nil {
		return err
	}
	a.Normalize()
	a.Passcodes = slices.Clone(a.Passcodes)
	a.DiscardedEvents = slices.Clone(a.DiscardedEvents)
	b.mu.Lock()
	defer b.mu.Unlock()
	if a.Token != "" {
		if other, ok := b.byToken[a.Token]; ok && other.ID != a.ID {
			return fmt.Errorf("token: expected a token no other account uses, got the token of account %s", other.ID)
		}
	}
	if old, ok := b.byID[a.ID]; ok && old.Token != "" {
		delete(b.byToken, old.Token)
	}
	b.byID[a.ID] = &a
	if a.Token != "" {
		b.byToken[a.Token] = &a
	}
	return nil
}

// get returns a copy-safe pointer: accounts are replaced whole, never mutated in place.
func (b *accountBook) get(id string) (*clevertap.Account, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a, ok := b.byID[id]
	return a, ok
}

func (b *accountBook) byAccountToken(token string) (*clevertap.Account, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a, ok := b.byToken[token]
	return a, ok
}

func (b *accountBook) list() []clevertap.Account {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]clevertap.Account, 0, len(b.byID))
	for _, a := range b.byID {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return regionOrder(out[i].Region) < regionOrder(out[j].Region)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func regionOrder(r clevertap.Region) int {
	return slices.Index(clevertap.Regions, r)
}
