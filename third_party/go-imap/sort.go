package imap

// SortKey is a key of the SORT command (RFC 5256 section 3).
type SortKey string

// The sort keys of RFC 5256.
const (
	SortKeyArrival SortKey = "ARRIVAL"
	SortKeyCc      SortKey = "CC"
	SortKeyDate    SortKey = "DATE"
	SortKeyFrom    SortKey = "FROM"
	SortKeySize    SortKey = "SIZE"
	SortKeySubject SortKey = "SUBJECT"
	SortKeyTo      SortKey = "TO"
)

// SortCriterion is one key of a SORT command, in ascending order unless
// Reverse.
type SortCriterion struct {
	Key     SortKey
	Reverse bool
}

// SortOptions contains options for the SORT command.
type SortOptions struct {
	// SortCriteria are the keys, most significant first.
	SortCriteria []SortCriterion
	// Return holds the RETURN options of an extended SORT (ESORT, RFC
	// 5267); nil for a plain SORT.
	Return *SearchOptions
}
