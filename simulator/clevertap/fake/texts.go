package fake

import "github.com/ctharness/ctharness/simulator/clevertap"

// refusalDiagnosis says what a per-record code means for the sender, for the journal and the inspector. The
// record's warnings (records.warnings) add the particular value when the validator names one.
var refusalDiagnosis = map[int]string{
	clevertap.CodeEventNameMissing: "the event has no evtName (or an empty one): an event record needs its name",
	clevertap.CodeEventStructure: "evtData is not an object of properties (or is missing where the account " +
		"requires it)",
	clevertap.CodeRestrictedEvent: "evtName is one of CleverTap's system events, which an upload may not raise",
	clevertap.CodeGenderInvalid:   "profileData.Gender must be M or F",
	clevertap.CodeEmailInvalid:    "profileData.Email is not an email address",
	clevertap.CodePhoneInvalid: "profileData.Phone must be + then the country code and number, digits " +
		"only (8 to 16 characters)",
	clevertap.CodeEmployedInvalid:  "profileData.Employed must be Y or N",
	clevertap.CodeEducationInvalid: "profileData.Education must be School, College or Graduate",
	clevertap.CodeMarriedInvalid:   "profileData.Married must be Y or N",
	clevertap.CodeAgeInvalid:       "profileData.Age must be a whole number of years",
	clevertap.CodePropertyLimit:    "evtData has more properties than the account allows",
	clevertap.CodeIdentityMissing: "no identity, objectId, FBID or GPID to file the record under (identity " +
		"under 120 characters)",
	clevertap.CodeNeitherEventNorProf: "the record is not an object whose type is event, profile or token",
	clevertap.CodeTimestampInvalid: "ts must be a positive whole number of epoch seconds (not milliseconds, " +
		"not a date)",
	clevertap.CodeObjectIDInvalid: "objectId must be a non-empty string of letters, digits, - and _ under " +
		"120 characters",
	clevertap.CodeDiscardedEvent: "the account discards this event (its discarded events): CleverTap drops it",
	clevertap.CodeTokenObjectIDInvalid: "a token record needs an objectId: a string of letters, digits, - and _ " +
		"under 120 characters",
	clevertap.CodeTokenDataInvalid:    "tokenData is not an object",
	clevertap.CodeTokenIDMissing:      "tokenData has no id (the push token)",
	clevertap.CodeTokenTypeMissing:    "tokenData has no type (fcm, apns, ...)",
	clevertap.CodeTokenTypeNotValid:   "tokenData.type must be fcm, gcm, apns, wns, mpns or chrome",
	clevertap.CodeTokenDataIncomplete: "a chrome token needs tokenData.keys.p256dh and tokenData.keys.auth",
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
