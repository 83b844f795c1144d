package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/ctharness/ctharness/internal/jsonenc"
)

// encodeJob writes a job as the same JSON encoding/json would (it reads it back), without reflection and without
// re-validating the payload, which the mapping produced with encoding/json: at saturation the generic encoder was
// a tenth of the relay's CPU.
func encodeJob(j *Job) []byte {
	// the names and punctuation take about 130 bytes and the time 35, and the seal is appended after (see seal)
	b := make([]byte, 0, 192+sealLen+len(j.Source)+len(j.EventID)+len(j.EventType)+len(j.Destination)+len(j.Kind)+
		len(j.Group)+len(j.Payload)+len(j.LastError))
	if j.ID != 0 {
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, j.ID, 10)
		b = append(b, `,"source":`...)
	} else {
		b = append(b, `{"source":`...)
	}
	b = jsonenc.AppendString(b, j.Source)
	b = append(b, `,"event_id":`...)
	b = jsonenc.AppendString(b, j.EventID)
	b = append(b, `,"event_type":`...)
	b = jsonenc.AppendString(b, j.EventType)
	b = append(b, `,"destination":`...)
	b = jsonenc.AppendString(b, j.Destination)
	b = append(b, `,"kind":`...)
	b = jsonenc.AppendString(b, string(j.Kind))
	if j.Group != "" {
		b = append(b, `,"group":`...)
		b = jsonenc.AppendString(b, j.Group)
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
		b = jsonenc.AppendString(b, j.LastError)
	}
	return append(b, '}')
}

// A stored job is sealed with a CRC-32C of its id and its JSON, written as the object's last member
// (`,"crc":"1a2b3c4d"}`): bbolt checks its meta pages but not the data pages, and a few bytes flipped inside a
// job's strings still read as JSON, so without the seal damage there would be delivered as if it were the job.
// Outboxes written before seals keep their jobs unsealed; the format bucket says from which id on seals are due.
const sealLen = len(`,"crc":"00000000"}`)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func jobCRC(id uint64, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(binary.BigEndian.AppendUint64(nil, id), crcTable), crcTable, body)
}

// seal returns the encoded job with its seal, written after raw's bytes (in its spare capacity when it has some):
// raw itself is left as it is, so a commit that runs again seals it afresh.
func seal(id uint64, raw []byte) []byte {
	body := raw[:len(raw)-1] // without the closing brace
	out := append(body, `,"crc":"`...)
	out = fmt.Appendf(out, "%08x", jobCRC(id, body))
	return append(out, `"}`...)
}

// unseal checks a stored job's seal. A job without one passes only when it may predate seals.
func unseal(id uint64, raw []byte, mustSeal bool) error {
	n := len(raw)
	if !hasSeal(raw) {
		if mustSeal {
			return fmt.Errorf("job %d: no seal (its last bytes are damaged)", id)
		}
		return nil
	}
	want, err := strconv.ParseUint(string(raw[n-10:n-2]), 16, 32)
	if err != nil {
		return fmt.Errorf("job %d: a damaged seal %q", id, raw[n-10:n-2])
	}
	if got := jobCRC(id, raw[:n-sealLen]); uint32(want) != got {
		return fmt.Errorf("job %d: its bytes changed since it was stored (checksum %08x, sealed %08x)", id, got, want)
	}
	return nil
}

// hasSeal says whether a stored job ends with a seal (checked or not).
func hasSeal(raw []byte) bool {
	n := len(raw)
	return n >= sealLen && string(raw[n-sealLen:n-10]) == `,"crc":"` && raw[n-2] == '"' && raw[n-1] == '}'
}

// destinationOf reads a sealed job's destination without decoding the rest, for the start-up check, where
// decoding every job was two thirds of its time: a job whose seal holds has the bytes encodeJob wrote, so the
// members before the destination are the source, event id and event type strings. ok is false for any other
// layout and for a destination with an escape; the caller decodes the job then.
func destinationOf(raw []byte) (destination string, ok bool) {
	rest, ok := bytes.CutPrefix(raw, []byte(`{"source":`))
	for _, next := range []string{`,"event_id":`, `,"event_type":`, `,"destination":`} {
		if !ok {
			return "", false
		}
		if rest, ok = skipString(rest); ok {
			rest, ok = bytes.CutPrefix(rest, []byte(next))
		}
	}
	if !ok || len(rest) == 0 || rest[0] != '"' {
		return "", false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 || bytes.IndexByte(rest[1:1+end], '\\') >= 0 {
		return "", false
	}
	return string(rest[1 : 1+end]), true
}

// skipString passes the JSON string at the start of b: it ends at the first quote not escaped.
func skipString(b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[i+1:], true
		}
	}
	return nil, false
}
