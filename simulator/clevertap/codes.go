package clevertap

import "strconv"

// Per-record result codes of POST /1/upload (reference clevertap-api.md §3.9).
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

// recordErrorPrefix is the text of each code before "Skipped record number : N". Texts marked real are the
// ones captured from the live API (reference §3.9); the others follow the real pattern of their family and
// are UNCONFIRMED. Note the real profile texts have no space before "Skipped", the others do.
var recordErrorPrefix = map[int]string{
	// real (509's pattern from RudderStack's mock of the live API)
	CodeEventNameMissing: "Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. ",
	CodeRestrictedEvent:  "Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event. ",
	CodeIdentityMissing:  "'identity' or 'fbId' or 'gpId' or 'objectId' is necessary under 120 chars to identify the user. ",
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

// refusalDiagnosis says what a per-record code means for the sender, for the journal and the inspector. The
// record's warnings (records.warnings) add the particular value when the validator names one.
var refusalDiagnosis = map[int]string{
	CodeEventNameMissing:     "the event has no evtName (or an empty one): an event record needs its name",
	CodeEventStructure:       "evtData is not an object of properties (or is missing where the account requires it)",
	CodeRestrictedEvent:      "evtName is one of CleverTap's system events, which an upload may not raise",
	CodeGenderInvalid:        "profileData.Gender must be M or F",
	CodeEmailInvalid:         "profileData.Email is not an email address",
	CodePhoneInvalid:         "profileData.Phone must be + then the country code and number, digits only (8 to 16 characters)",
	CodeEmployedInvalid:      "profileData.Employed must be Y or N",
	CodeEducationInvalid:     "profileData.Education must be School, College or Graduate",
	CodeMarriedInvalid:       "profileData.Married must be Y or N",
	CodeAgeInvalid:           "profileData.Age must be a whole number of years",
	CodePropertyLimit:        "evtData has more properties than the account allows",
	CodeIdentityMissing:      "no identity, objectId, FBID or GPID to file the record under (identity under 120 characters)",
	CodeNeitherEventNorProf:  "the record is not an object whose type is event, profile or token",
	CodeTimestampInvalid:     "ts must be a positive whole number of epoch seconds (not milliseconds, not a date)",
	CodeObjectIDInvalid:      "objectId must be a non-empty string of letters, digits, - and _ under 120 characters",
	CodeDiscardedEvent:       "the account discards this event (its discarded events): CleverTap drops it",
	CodeTokenObjectIDInvalid: "a token record needs an objectId: a string of letters, digits, - and _ under 120 characters",
	CodeTokenDataInvalid:     "tokenData is not an object",
	CodeTokenIDMissing:       "tokenData has no id (the push token)",
	CodeTokenTypeMissing:     "tokenData has no type (fcm, apns, ...)",
	CodeTokenTypeNotValid:    "tokenData.type must be fcm, gcm, apns, wns, mpns or chrome",
	CodeTokenDataIncomplete:  "a chrome token needs tokenData.keys.p256dh and tokenData.keys.auth",
}

// RecordErrorText is the error string CleverTap puts in unprocessed[].error; index is 0-based, the text 1-based.
func RecordErrorText(code, index int) string {
	return recordErrorPrefix[code] + "Skipped record number : " + strconv.Itoa(index+1)
}

// Request-level error bodies. The 401 text is a real capture; the others are UNCONFIRMED and follow its envelope.
const (
	textAccountInvalid     = "Account ID is not valid"
	textInvalidCredentials = "Invalid Credentials"
	textMalformed          = "Malformed request"
	textTooManyRecords     = "Too many records. Maximum allowed records per request is %d"
	textBodyTooLarge       = "Request body too large. Maximum allowed size is %d bytes"
	textTooManyConcurrent  = "Too many concurrent requests"
	textMethodNotAllowed   = "Method not allowed"
	textNotFound           = "Resource not found"
	textServiceUnavailable = "Service Unavailable. Please retry later"
	textInvalidAccountInfo = "Invalid Account Info"
)
