package imap

// ThreadAlgorithm is a threading algorithm.
type ThreadAlgorithm string

const (
	ThreadOrderedSubject ThreadAlgorithm = "ORDEREDSUBJECT"
	ThreadReferences     ThreadAlgorithm = "REFERENCES"
)

// ThreadData is a thread of messages (RFC 5256 section 4): Chain lists
// messages each of which is the parent of the next, and SubThreads are the
// children of the last one. A thread whose root is missing has an empty
// Chain and at least two SubThreads.
type ThreadData struct {
	Chain      []uint32
	SubThreads []ThreadData
}
