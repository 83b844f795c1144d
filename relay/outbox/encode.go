package outbox

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// encodeJob writes a job as the same JSON encoding/json would (it reads it back), without reflection and without
// re-validating the payload, which the mapping produced with encoding/json: at saturation the generic encoder was
// a tenth of the relay's CPU.
func encodeJob(j *Job) []byte {
	b := make([]byte, 0, 192+len(j.Payload)+len(j.LastError))
	if j.ID != 0 {
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, j.ID, 10)
		b = append(b, `,"source":`...)
	} else {
		b = append(b, `{"source":`...)
	}
	b = appendString(b, j.Source)
	b = append(b, `,"event_id":`...)
	b = appendString(b, j.EventID)
	b = append(b, `,"event_type":`...)
	b = appendString(b, j.EventType)
	b = append(b, `,"destination":`...)
	b = appendString(b, j.Destination)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(j.Kind))
	if j.Group != "" {
		b = append(b, `,"group":`...)
		b = appendString(b, j.Group)
	}
	b = append(b, `,"payload":`...)
	if len(j.Payload) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, j.Payload...)
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(j.Attempts), 10)
	b = append(b, `,"created_at":"`...)
	b = j.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if j.LastError != "" {
		b = append(b, `,"last_error":`...)
		b = appendString(b, j.LastError)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as a JSON string (valid UTF-8 is kept, control characters and invalid bytes escaped).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		case c < 0x80:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size - 1
		}
	}
	return append(b, '"')
}
