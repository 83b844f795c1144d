package lifecycle

import "math"

// usdPerUnit are fixed exchange rates, so every vendor converts prices the same way and payloads are reproducible.
var usdPerUnit = map[string]float64{"USD": 1, "EUR": 1.08, "GBP": 1.27, "INR": 0.012, "JPY": 0.0067, "PHP": 0.018,
	"BRL": 0.2, "IDR": 0.000064, "AED": 0.27, "KRW": 0.00074, "SGD": 0.74, "CAD": 0.74, "AUD": 0.66}

// Convert changes an amount between currencies (unknown currencies count as USD), rounded to cents.
func Convert(amount float64, from, to string) float64 {
	rate := func(c string) float64 {
		if r, ok := usdPerUnit[c]; ok {
			return r
		}
		return 1
	}
	return math.Round(amount*rate(from)/rate(to)*100) / 100
}
