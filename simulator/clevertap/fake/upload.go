package fake

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"

	"github.com/ctharness/ctharness/simulator/clevertap"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/valyala/fastjson"
)

// restrictedEvents is the union of the SDKs' restricted system event lists
// (https://developer.clevertap.com/docs/events-object) plus "Web Page Viewed", which the real server rejected with 513.
// Compared case-insensitively.
var restrictedEvents = []string{
	"Stayed", "UTM Visited", "App Launched", "Notification Sent", "Notification Viewed", "Notification Clicked",
	"wzrk_d", "App Uninstalled", "Notification Bounced", "Web Page Viewed",
}

// tokenTypes are the device token types CleverTap's token upload takes
// (https://developer.clevertap.com/docs/upload-device-tokens-api).
var tokenTypes = []string{"fcm", "gcm", "apns", "wns", "mpns", "chrome"}

// validation limits of the upload format.
type uploadLimits struct {
	maxRecords      int
	maxTokenRecords int
	// tokenLimitInMixed applies maxTokenRecords to requests that mix tokens with other records too.
	tokenLimitInMixed bool
	// maxTimestamp is the largest ts taken as epoch seconds; anything larger is plainly milliseconds.
	maxTimestamp   int64
	requireEvtData bool
}

const (
	maxIdentityChars   = 120 // from the real 523 text: "necessary under 120 chars"
	maxPropertyKeyLen  = 120
	maxPropertyValLen  = 512
	defaultMaxTimestmp = 9_999_999_999 // the last 10-digit second, in 2286; 13-digit values are milliseconds
)

// rejectedRecord is a record CleverTap would list in unprocessed[].
type rejectedRecord struct {
	index int
	code  int
	raw   span
}

// span is a slice of an upload's record buffer, kept as offsets while the buffer grows.
type span struct{ start, end int }

func (s span) of(buf []byte) []byte { return buf[s.start:s.end] }

// requestError is a whole-request rejection: an HTTP status with CleverTap's envelope, and a diagnosis for humans.
type requestError struct {
	status    int
	text      string
	diagnosis string
}

// uploadBatch is the outcome of validating one /1/upload body in a single pass.
type uploadBatch struct {
	total    int
	accepted []store.Record
	rejected []rejectedRecord
	warnings []clevertap.RecordWarning
	// buf is the request body; each record's span points at its bytes as uploaded.
	buf []byte
}

var parserPool fastjson.ParserPool

// validateUpload parses the body once and checks every record in CleverTap's order (docs/clevertap-api.md, "POST
// /1/upload").
func validateUpload(body []byte, acct *clevertap.Account, limits uploadLimits) (*uploadBatch, *requestError) {
	if !utf8.Valid(body) {
		return nil, &requestError{status: 400, text: textMalformed, diagnosis: "body is not valid UTF-8 JSON"}
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	root, err := p.ParseBytes(body)
	if err != nil {
		return nil, notJSON(err)
	}
	// The parser caps nesting at 300 levels, so it goes first: the strict validator wraps its error at every
	// level and would take quadratic time on 100,000 nested brackets. The parser is lenient where CleverTap's
	// is not (raw control characters in strings, numbers such as "."), hence the strict pass after it.
	if err := fastjson.ValidateBytes(body); err != nil {
		return nil, notJSON(err)
	}
	if root.Type() != fastjson.TypeObject {
		return nil, &requestError{status: 400, text: textMalformed,
			diagnosis: "expected a JSON object {\"d\":[...]}, got a JSON " + root.Type().String()}
	}
	d := root.Get("d")
	if d == nil || d.Type() != fastjson.TypeArray {
		got := "no \"d\" key"
		if d != nil {
			got = "\"d\" is a JSON " + d.Type().String()
		}
		return nil, &requestError{status: 400, text: textMalformed,
			diagnosis: "expected a JSON object with an array \"d\" of records, got " + got}
	}
	records, _ := d.Array()
	if len(records) > limits.maxRecords {
		return nil, &requestError{status: 400, text: fmt.Sprintf(textTooManyRecords, limits.maxRecords),
			diagnosis: fmt.Sprintf("expected at most %d records in \"d\", got %d; split the upload", limits.maxRecords,
				len(records))}
	}
	tokens := 0
	for _, rec := range records {
		if string(rec.GetStringBytes("type")) == string(clevertap.TypeToken) {
			tokens++
		}
	}
	// CleverTap documents 100 per call on its device-token page only, and RudderStack sends up to 1000 records
	// mixing profiles and tokens: the token limit applies to a request of tokens alone unless told otherwise
	if tokens > limits.maxTokenRecords && (tokens == len(records) || limits.tokenLimitInMixed) {
		return nil, &requestError{status: 400, text: fmt.Sprintf(textTooManyRecords, limits.maxTokenRecords),
			diagnosis: fmt.Sprintf("expected at most %d token records per request, got %d", limits.maxTokenRecords, tokens)}
	}
	spans := locateRecords(body)
	if len(spans) != len(records) {
		// cannot happen for a body the validator accepted; refuse rather than echo the wrong bytes
		return nil, &requestError{status: 400, text: textMalformed,
			diagnosis: fmt.Sprintf("could not delimit the records of \"d\" (%d parsed, %d located)", len(records), len(spans))}
	}
	batch := &uploadBatch{total: len(records), accepted: make([]store.Record, 0, len(records)), buf: body}
	v := recordValidator{acct: acct, limits: limits, batch: batch}
	for i, rec := range records {
		v.check(i, rec, spans[i])
	}
	return batch, nil
}

func notJSON(err error) *requestError {
	return &requestError{status: 400, text: textMalformed,
		diagnosis: "expected a JSON object {\"d\":[...]}, but the body is not JSON: " + clip.Text(err.Error(), 200)}
}

// recordValidator holds what checking one record needs; check appends the record to the batch.
type recordValidator struct {
	acct   *clevertap.Account
	limits uploadLimits
	batch  *uploadBatch
}

// recordFields are the top-level keys of a record, collected in one walk over the object.
type recordFields struct {
	typ                         *fastjson.Value
	identity, fbid, gpid, objID *fastjson.Value
	ts                          *fastjson.Value
	evtName, evtData            *fastjson.Value
	profileData, tokenData      *fastjson.Value
}

func (v *recordValidator) check(i int, rec *fastjson.Value, raw span) {
	acc := store.Record{Index: i, Raw: raw.of(v.batch.buf)}
	if code := v.judge(i, rec, &acc); code != 0 {
		v.batch.rejected = append(v.batch.rejected, rejectedRecord{index: i, code: code, raw: raw})
		return
	}
	v.batch.accepted = append(v.batch.accepted, acc)
}

// judge checks one record in CleverTap's order and fills what the store indexes; it returns the per-record code
// of a refusal, or 0.
func (v *recordValidator) judge(i int, rec *fastjson.Value, acc *store.Record) int {
	obj, err := rec.Object()
	if err != nil {
		return clevertap.CodeNeitherEventNorProf
	}
	f := fieldsOf(obj)
	acc.Kind = clevertap.RecordType(stringOf(f.typ))
	switch acc.Kind {
	case clevertap.TypeEvent, clevertap.TypeProfile:
	case clevertap.TypeToken:
		return v.checkToken(&f, acc)
	default:
		return clevertap.CodeNeitherEventNorProf
	}
	if code := identify(&f, acc); code != 0 {
		return code
	}
	ts, code := v.timestamp(i, f.ts)
	if code != 0 {
		return code
	}
	acc.TS = ts
	if acc.Kind == clevertap.TypeEvent {
		return v.checkEvent(i, &f, acc)
	}
	return v.checkProfile(i, &f, acc)
}

// fieldsOf collects a record's top-level keys in one walk over the object.
func fieldsOf(obj *fastjson.Object) recordFields {
	var f recordFields
	obj.Visit(func(key []byte, val *fastjson.Value) {
		switch string(key) {
		case "type":
			f.typ = val
		case "identity":
			f.identity = val
		case "FBID", "fbId", "fbid":
			f.fbid = val
		case "GPID", "gpId", "gpid":
			f.gpid = val
		case "objectId":
			f.objID = val
		case "ts":
			f.ts = val
		case "evtName":
			f.evtName = val
		case "evtData":
			f.evtData = val
		case "profileData":
			f.profileData = val
		case "tokenData":
			f.tokenData = val
		}
	})
	return f
}

// identify files an event or profile record under its user: identity (a profile's may sit in profileData),
// FBID, GPID or objectId; it returns 523 when none is there (or the identity is too long), 526 for a bad objectId.
func identify(f *recordFields, acc *store.Record) int {
	identity, tooLong := identityOf(f.identity)
	if identity == "" && acc.Kind == clevertap.TypeProfile && f.profileData != nil {
		// a profile may carry its identity inside profileData (RudderStack does this with objectId records)
		identity, tooLong = identityOf(f.profileData.Get("Identity"))
		if identity == "" {
			identity, tooLong = identityOf(f.profileData.Get("identity"))
		}
	}
	fbid, _ := identityOf(f.fbid)
	gpid, _ := identityOf(f.gpid)
	objectIDPresent := f.objID != nil && f.objID.Type() != fastjson.TypeNull
	if tooLong || (identity == "" && fbid == "" && gpid == "" && !objectIDPresent) {
		return clevertap.CodeIdentityMissing
	}
	if objectIDPresent {
		id, ok := objectIDOf(f.objID)
		if !ok {
			return clevertap.CodeObjectIDInvalid
		}
		acc.ObjectID = id
	}
	acc.Identity = identity
	if acc.Identity == "" {
		acc.Identity = firstNonEmpty(fbid, gpid)
	}
	return 0
}

func (v *recordValidator) timestamp(i int, ts *fastjson.Value) (int64, int) {
	if ts == nil || ts.Type() == fastjson.TypeNull {
		return 0, 0 // CleverTap stamps the record with the time of receipt
	}
	var f float64
	switch ts.Type() {
	case fastjson.TypeNumber:
		f = ts.GetFloat64()
	case fastjson.TypeString:
		// CleverTap's own Python example sends "%s" % int(time.time()) and expects nothing unprocessed
		digits := string(ts.GetStringBytes())
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || strings.TrimSpace(digits) != digits {
			v.warn(i, fmt.Sprintf("ts %q is a string but not a whole number of epoch seconds", digits))
			return 0, clevertap.CodeTimestampInvalid
		}
		f = float64(n)
	default:
		v.warn(i, "ts is a JSON "+ts.Type().String()+"; CleverTap wants a number of epoch seconds")
		return 0, clevertap.CodeTimestampInvalid
	}
	if f <= 0 || f != math.Trunc(f) {
		v.warn(i, "ts "+ts.String()+" is not a positive whole number of epoch seconds")
		return 0, clevertap.CodeTimestampInvalid
	}
	if f > float64(v.limits.maxTimestamp) {
		v.warn(i, "ts "+ts.String()+" looks like milliseconds; CleverTap wants epoch seconds (divide by 1000)")
		return 0, clevertap.CodeTimestampInvalid
	}
	return int64(f), 0
}

func (v *recordValidator) checkEvent(i int, f *recordFields, acc *store.Record) int {
	name := strings.TrimSpace(stringOf(f.evtName))
	if name == "" {
		return clevertap.CodeEventNameMissing
	}
	for _, restricted := range restrictedEvents {
		if len(restricted) == len(name) && strings.EqualFold(restricted, name) {
			return clevertap.CodeRestrictedEvent
		}
	}
	if v.acct.Discards(name) {
		return clevertap.CodeDiscardedEvent
	}
	acc.Name = stringOf(f.evtName)
	if f.evtData == nil {
		if v.limits.requireEvtData {
			return clevertap.CodeEventStructure
		}
		return 0
	}
	data, err := f.evtData.Object()
	if err != nil {
		v.warn(i, "evtData is a JSON "+f.evtData.Type().String()+"; expected an object of properties")
		return clevertap.CodeEventStructure
	}
	if n := data.Len(); n > v.acct.EventPropertyLimit {
		v.warn(i, fmt.Sprintf("evtData has %d properties; the account allows %d", n, v.acct.EventPropertyLimit))
		return clevertap.CodePropertyLimit
	}
	data.Visit(func(key []byte, val *fastjson.Value) {
		v.checkProperty(i, key, val, name)
	})
	return 0
}

// checkProperty warns about what the SDKs would trim or stringify; the server's handling is UNCONFIRMED.
func (v *recordValidator) checkProperty(i int, key []byte, val *fastjson.Value, eventName string) {
	if len(key) > maxPropertyKeyLen {
		v.warn(i, fmt.Sprintf("property key of %d characters; CleverTap documents %d at most", len(key), maxPropertyKeyLen))
	}
	switch val.Type() {
	case fastjson.TypeString:
		if s := val.GetStringBytes(); len(s) > maxPropertyValLen {
			v.warn(i, fmt.Sprintf("property %q has a value of %d bytes; CleverTap documents %d at most", key, len(s),
				maxPropertyValLen))
		}
	case fastjson.TypeObject:
		v.warn(i,
			fmt.Sprintf(
				"property %q is a nested object; CleverTap's server handling is UNCONFIRMED (RudderStack stringifies them)", key))
	case fastjson.TypeArray:
		if !(string(key) == "Items" && strings.EqualFold(eventName, "Charged")) {
			v.warn(i, fmt.Sprintf("property %q is an array; only Charged.Items is documented as an array for events", key))
		}
	}
}

func (v *recordValidator) checkProfile(i int, f *recordFields, acc *store.Record) int {
	if f.profileData == nil {
		return 0
	}
	data, err := f.profileData.Object()
	if err != nil {
		v.warn(i, "profileData is a JSON "+f.profileData.Type().String()+"; expected an object of profile properties")
		return clevertap.CodeEventStructure
	}
	// CleverTap checks the standard fields in this order (codes 514 to 520).
	checks := []struct {
		key   string
		code  int
		valid func(*fastjson.Value) bool
	}{
		{"Gender", clevertap.CodeGenderInvalid, oneOf("M", "F")},
		{"Email", clevertap.CodeEmailInvalid, validEmail},
		{"Phone", clevertap.CodePhoneInvalid, validPhone},
		{"Employed", clevertap.CodeEmployedInvalid, oneOf("Y", "N")},
		{"Education", clevertap.CodeEducationInvalid, oneOf("School", "College", "Graduate")},
		{"Married", clevertap.CodeMarriedInvalid, oneOf("Y", "N")},
		{"Age", clevertap.CodeAgeInvalid, validAge},
	}
	for _, c := range checks {
		if val := data.Get(c.key); val != nil && !c.valid(val) {
			return c.code
		}
	}
	acc.HasProfileData = data.Len() > 0
	data.Visit(func(key []byte, val *fastjson.Value) {
		if warning := profileValueWarning(val); warning != "" {
			v.warn(i, fmt.Sprintf("profileData %q: %s", key, warning))
		}
	})
	return 0
}

// profileValueWarning says what CleverTap would take differently from what the profile value seems to mean:
// operator objects with a wrong argument, multi-values beyond the limits, nested objects.
func profileValueWarning(val *fastjson.Value) string {
	switch val.Type() {
	case fastjson.TypeArray:
		return multiValueWarning(val)
	case fastjson.TypeObject:
	default:
		return ""
	}
	obj, _ := val.Object()
	if obj.Len() != 1 {
		return "a nested object is stored as it is; CleverTap's operators are {\"$set\"|\"$add\"|\"$remove\"|" +
			"\"$incr\"|\"$decr\"|\"$delete\": ...}"
	}
	var op string
	var arg *fastjson.Value
	obj.Visit(func(k []byte, v *fastjson.Value) { op, arg = string(k), v })
	switch op {
	case clevertap.OpIncr, clevertap.OpDecr:
		if arg.Type() != fastjson.TypeNumber {
			return op + " takes a number, got a JSON " + arg.Type().String() + "; the property is left as it was"
		}
		if arg.GetFloat64() <= 0 {
			return op + " " + clip.Text(arg.String(), 40) + ": CleverTap's SDKs send only amounts greater than 0"
		}
	case clevertap.OpDelete:
		if arg.Type() != fastjson.TypeTrue {
			return "{\"$delete\": " + clip.Text(arg.String(), 40) + "} deletes nothing; only true deletes"
		}
	case clevertap.OpSet, clevertap.OpAdd, clevertap.OpRemove:
		if arg.Type() == fastjson.TypeArray {
			return multiValueWarning(arg)
		}
	default:
		return "a nested object is stored as it is; " + strconv.Quote(clip.Text(op, 60)) +
			" is not one of CleverTap's operators"
	}
	return ""
}

// multiValueWarning flags what the multi-value rules change: non-string values cast, long values dropped, more
// than 100 values with the oldest dropped.
func multiValueWarning(list *fastjson.Value) string {
	values, _ := list.Array()
	var notes []string
	for _, v := range values {
		switch v.Type() {
		case fastjson.TypeString:
			if n := utf8.RuneCount(v.GetStringBytes()); n > clevertap.MaxMultiValueChars {
				notes = append(notes, fmt.Sprintf("a value of %d characters is dropped (at most %d)", n,
					clevertap.MaxMultiValueChars))
			}
		case fastjson.TypeNumber, fastjson.TypeTrue, fastjson.TypeFalse:
			notes = append(notes, "a "+v.Type().String()+" is stored as a string (multi-values are strings)")
		default:
			notes = append(notes, "a JSON "+v.Type().String()+" is not a multi-value and is dropped")
		}
	}
	if len(values) > clevertap.MaxMultiValues {
		notes = append(notes, fmt.Sprintf("%d values: only the newest %d are kept", len(values), clevertap.MaxMultiValues))
	}
	slices.Sort(notes)
	return strings.Join(slices.Compact(notes), "; ")
}

func (v *recordValidator) checkToken(f *recordFields, acc *store.Record) int {
	id, ok := objectIDOf(f.objID)
	if !ok {
		return clevertap.CodeTokenObjectIDInvalid
	}
	acc.ObjectID = id
	if f.tokenData == nil || f.tokenData.Type() != fastjson.TypeObject {
		return clevertap.CodeTokenDataInvalid
	}
	if stringOf(f.tokenData.Get("id")) == "" {
		return clevertap.CodeTokenIDMissing
	}
	typ := stringOf(f.tokenData.Get("type"))
	if typ == "" {
		return clevertap.CodeTokenTypeMissing
	}
	known := false
	for _, t := range tokenTypes {
		known = known || t == typ
	}
	if !known {
		return clevertap.CodeTokenTypeNotValid
	}
	if typ == "chrome" {
		keys := f.tokenData.Get("keys")
		if keys == nil || stringOf(keys.Get("p256dh")) == "" || stringOf(keys.Get("auth")) == "" {
			return clevertap.CodeTokenDataIncomplete
		}
	}
	acc.Name = typ
	return 0
}

// warn notes a record's warning, clipped, up to maxWarnings a request (then once that more were not kept).
func (v *recordValidator) warn(i int, text string) {
	switch n := len(v.batch.warnings); {
	case n < maxWarnings:
		v.batch.warnings = append(v.batch.warnings, clevertap.RecordWarning{Index: i, Warning: clip.Text(text,
			clip.MaxNote)})
	case n == maxWarnings:
		v.batch.warnings = append(v.batch.warnings, clevertap.RecordWarning{Index: i,
			Warning: fmt.Sprintf("more warnings from record %d on not kept (at most %d a request)", i+1, maxWarnings)})
	}
}

// identityOf reads an identity value: a string, or a number sent unquoted (CleverTap echoes it as a string).
func identityOf(val *fastjson.Value) (id string, tooLong bool) {
	if val == nil {
		return "", false
	}
	switch val.Type() {
	case fastjson.TypeString:
		id = strings.TrimSpace(string(val.GetStringBytes()))
	case fastjson.TypeNumber:
		id = val.String()
	default:
		return "", false
	}
	return id, utf8.RuneCountInString(id) >= maxIdentityChars
}

// objectIDOf accepts CleverTap ids such as "-2ce3cca260664f70b82b1c6bb505f462" or "__gc4grg4053N1eYkW6OBH71jhFev7b1iP":
// letters, digits, '-' and '_', under 120 characters.
func objectIDOf(val *fastjson.Value) (string, bool) {
	if val == nil || val.Type() != fastjson.TypeString {
		return "", false
	}
	s := val.GetStringBytes()
	if len(s) == 0 || len(s) >= maxIdentityChars {
		return "", false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return string(s), true
}

func stringOf(val *fastjson.Value) string {
	if val == nil || val.Type() != fastjson.TypeString {
		return ""
	}
	return string(val.GetStringBytes())
}

func oneOf(allowed ...string) func(*fastjson.Value) bool {
	return func(val *fastjson.Value) bool {
		s := stringOf(val)
		for _, a := range allowed {
			if s == a {
				return true
			}
		}
		return false
	}
}

func validEmail(val *fastjson.Value) bool {
	s := stringOf(val)
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.ContainsAny(s, " \t\r\n") || strings.Contains(domain, "@") {
		return false
	}
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1
}

// validPhone wants E.164 as CleverTap documents it: "+[country code][number]".
func validPhone(val *fastjson.Value) bool {
	s := stringOf(val)
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validAge(val *fastjson.Value) bool {
	switch val.Type() {
	case fastjson.TypeNumber:
		return val.GetFloat64() >= 0
	case fastjson.TypeString:
		n, err := strconv.Atoi(string(val.GetStringBytes()))
		return err == nil && n >= 0
	}
	return false
}

func firstNonEmpty(values ...string) string {
	for _, s := range values {
		if s != "" {
			return s
		}
	}
	return ""
}

// appendUploadResponse writes CleverTap's answer: success when nothing was rejected, fail when nothing was processed,
// partial otherwise (https://developer.clevertap.com/docs/upload-events-api), compact as the current API serialises it.
func appendUploadResponse(dst []byte, b *uploadBatch) []byte {
	processed := len(b.accepted)
	status := "success"
	switch {
	case len(b.rejected) == 0:
	case processed == 0:
		status = "fail"
	default:
		status = "partial"
	}
	dst = append(dst, `{"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","processed":`...)
	dst = strconv.AppendInt(dst, int64(processed), 10)
	dst = append(dst, `,"unprocessed":[`...)
	for n, r := range b.rejected {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"status":"fail","code":`...)
		dst = strconv.AppendInt(dst, int64(r.code), 10)
		dst = append(dst, `,"error":`...)
		dst = strconv.AppendQuote(dst, clevertap.RecordErrorText(r.code, r.index)) // the texts are plain ASCII
		dst = append(dst, `,"record":`...)
		dst = append(dst, r.raw.of(b.buf)...)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}
