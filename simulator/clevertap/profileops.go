package clevertap

// Profile operations inside an upload's profileData (https://developer.clevertap.com/docs/upload-user-profiles-api): a
// value is set as it comes, an array is a multi-value property, and an object with one of CleverTap's operators changes
// what the profile holds.
const (
	OpSet    = "$set"
	OpAdd    = "$add"
	OpRemove = "$remove"
	OpIncr   = "$incr"
	OpDecr   = "$decr"
	OpDelete = "$delete"
)

// Multi-value limits (docs.clevertap.com/docs/platform-considerations): at most 100 values, the oldest dropped first;
// each at most 512 characters.
const (
	MaxMultiValues     = 100
	MaxMultiValueChars = 512
)
