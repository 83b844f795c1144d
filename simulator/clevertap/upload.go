package clevertap

// RecordType is the "type" of an upload record.
type RecordType string

const (
	TypeEvent   RecordType = "event"
	TypeProfile RecordType = "profile"
	TypeToken   RecordType = "token"
)

// RecordWarning is something CleverTap accepts but a human should know (the reference marks the server's handling
// UNCONFIRMED, or the SDKs would have changed the value). Warnings go to the journal, never to the response.
type RecordWarning struct {
	Index   int    `json:"index"`
	Warning string `json:"warning"`
}
