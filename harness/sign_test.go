package harness

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ctharness/ctharness/relay/purchasely"
)

func signPurchasely(r *http.Request, body []byte) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	r.Header.Set(purchasely.HeaderTimestamp, ts)
	r.Header.Set(purchasely.HeaderSignature, purchasely.Signature("sim-purchasely", ts, body))
}
