package clevertap

import (
	"maps"
	"slices"
	"strconv"
)

// Per-record result codes of POST /1/upload (docs/clevertap-api.md, "POST /1/upload").
const (
	CodeEventNameMissing     = 509
	CodeEventStructure       = 512
	CodeRestrictedEvent      = 513
	CodeGenderInvalid        = 514
	CodeEmailInvalid         = 515
	CodePhoneInvalid         = 516
	CodeEmployedInvalid      = 517
	CodeEducationInvalid     = 518
	CodeMarriedInvalid       = 519
	CodeAgeInvalid           = 520
	CodePropertyLimit        = 522
	CodeIdentityMissing      = 523
	CodeNeitherEventNorProf  = 524
	CodeTimestampInvalid     = 525
	CodeObjectIDInvalid      = 526
	CodeDiscardedEvent       = 528
	CodeTokenObjectIDInvalid = 530
	CodeTokenDataInvalid     = 531
	CodeTokenIDMissing       = 532
	CodeTokenTypeMissing     = 533
	CodeTokenTypeNotValid    = 534
	CodeTokenDataIncomplete  = 535
)

// recordErrorPrefix is the text of each code before "Skipped record number : N". Texts marked real are the ones
// captured from the live API (docs/clevertap-api.md lists which); the others follow the real pattern of their family
// and are UNCONFIRMED. Note the real profile texts have no space before "Skipped", the others do.
var recordErrorPrefix = map[int]string{
	// real (509's pattern from RudderStack's mock of the live API)
	CodeEventNameMissing: "Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. ",
	CodeRestrictedEvent:  "Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event. ",
	CodeIdentityMissing: "'identity' or 'fbId' or 'gpId' or 'objectId' is necessary under 120 chars to identify " +
		"the user. ",
	CodeTimestampInvalid: "Timestamp should be present in the Unix Epoch format. ",
	CodeGenderInvalid:    "Profile data is incorrect. Gender needs to be M/F.",
	CodeEmailInvalid:     "Profile data is incorrect. Email is not valid.",
	CodePhoneInvalid:     "Profile data is incorrect. Phone number is not valid.",
	CodeEmployedInvalid:  "Profile data is incorrect. Employed needs to be Y/N.",
	CodeEducationInvalid: "Profile data is incorrect. Education needs to be School/College/Graduate..",
	CodeMarriedInvalid:   "Profile data is incorrect. Married needs to be Y/N.",
	CodeAgeInvalid:       "Profile data is incorrect. Age is invalid.",

	// UNCONFIRMED
	CodeDiscardedEvent:       "Event Name is incorrect. ErrorCode: 528 - Discarded event is raised. ",
	CodeEventStructure:       "Event data is incorrect. ErrorCode: 512 - Invalid event structure. ",
	CodePropertyLimit:        "Event data is incorrect. ErrorCode: 522 - Event properties limit exceeded. ",
	CodeNeitherEventNorProf:  "Record type is incorrect. ErrorCode: 524 - Data is neither event nor profile. ",
	CodeObjectIDInvalid:      "'objectId' is incorrect. ErrorCode: 526 - objectId is invalid. ",
	CodeTokenObjectIDInvalid: "Token data is incorrect. ErrorCode: 530 - Invalid 'objectId'. ",
	CodeTokenDataInvalid:     "Token data is incorrect. ErrorCode: 531 - Invalid token data. ",
	CodeTokenIDMissing:       "Token data is incorrect. ErrorCode: 532 - Token 'id' not present. ",
	CodeTokenTypeMissing:     "Token data is incorrect. ErrorCode: 533 - Token 'type' not present. ",
	CodeTokenTypeNotValid:    "Token data is incorrect. ErrorCode: 534 - Token 'type' not valid for 'objectId'. ",
	CodeTokenDataIncomplete:  "Token data is incorrect. ErrorCode: 535 - Invalid token data. ",
}

// CodeNotReady is the read side's "still in progress" code: a cursor's first page or a count not ready yet, to be
// asked again.
const CodeNotReady = 2

// RecordErrorText is the error string CleverTap puts in unprocessed[].error; index is 0-based, the text 1-based.
func RecordErrorText(code, index int) string {
	return recordErrorPrefix[code] + "Skipped record number : " + strconv.Itoa(index+1)
}

// RecordCodes lists every per-record code the fake answers, in ascending order.
func RecordCodes() []int {
	return slices.Sorted(maps.Keys(recordErrorPrefix))
}
