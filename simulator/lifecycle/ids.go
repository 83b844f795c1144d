package lifecycle

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
)

// IDs makes the ids a story needs (event ids, transaction ids) from a seed, so the same story gives the same ids
// every run and golden payloads can be compared byte for byte.
type IDs struct {
	mu   sync.Mutex
	rng  *rand.Rand
	base map[Store]string
}

// NewIDs seeds a generator from any string (a user id, a scenario name).
func NewIDs(seed string) *IDs {
	s := Seed(seed)
	return &IDs{rng: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)), base: map[Store]string{}}
}

// Seed is a number made from any string, the same every run.
func Seed(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// UUID is a version 4 UUID.
func (g *IDs) UUID() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return FormatUUID(b)
}

// FormatUUID writes 16 bytes in a UUID's 8-4-4-4-12 hex form.
func FormatUUID(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Hex is n random hex characters.
func (g *IDs) Hex(n int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	const digits = "0123456789abcdef"
	out := make([]byte, n)
	for i := range out {
		out[i] = digits[g.rng.UintN(16)]
	}
	return string(out)
}

// Digits is n random decimal digits, the first not zero.
func (g *IDs) Digits(n int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]byte, n)
	for i := range out {
		out[i] = byte('0' + g.rng.UintN(10))
	}
	if out[0] == '0' {
		out[0] = '1'
	}
	return string(out)
}

// Transaction is the store transaction id of the n-th period (0 = the original purchase): App Store numeric ids
// counting up, Play order ids "GPA.xxxx-xxxx-xxxx-xxxxx" with "..n" for renewals, Stripe invoices, Amazon receipts.
func (g *IDs) Transaction(store Store, n int) string {
	g.mu.Lock()
	base, ok := g.base[store]
	g.mu.Unlock()
	if !ok {
		switch store {
		case PlayStore:
			base = "GPA." + g.Digits(4) + "-" + g.Digits(4) + "-" + g.Digits(4) + "-" + g.Digits(5)
		case Stripe:
			base = "in_" + g.Hex(24)
		case Amazon:
			base = "amzn1.receipt." + g.Hex(20)
		default:
			base = "2000000" + g.Digits(9)
		}
		g.mu.Lock()
		g.base[store] = base
		g.mu.Unlock()
	}
	switch store {
	case PlayStore:
		if n == 0 {
			return base
		}
		return fmt.Sprintf("%s..%d", base, n-1)
	case AppStore:
		var num int64
		fmt.Sscan(base, &num)
		return fmt.Sprint(num + int64(n))
	default:
		if n == 0 {
			return base
		}
		return fmt.Sprintf("%s_%d", base, n)
	}
}
