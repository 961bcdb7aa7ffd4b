package imapd

import "strings"

// baseSubject extracts the base subject of RFC 5256 section 2.1 from a
// decoded subject, and reports whether the extraction removed a reply or
// forward marker (subj-refwd, "(fwd)" or "[fwd: ...]"), which THREAD
// REFERENCES needs.
func baseSubject(subject string) (base string, replyOrFwd bool) {
	// (1) Tabs and line breaks become spaces, and runs of spaces one.
	s := strings.Join(strings.FieldsFunc(subject, isSubjectSpace), " ")
	for {
		// (2) Remove trailers: "(fwd)" and white space, repeatedly.
		for {
			if strings.HasSuffix(s, " ") {
				s = s[:len(s)-1]
			} else if n := len(s); n >= 5 && strings.EqualFold(s[n-5:], "(fwd)") {
				s = s[:n-5]
				replyOrFwd = true
			} else {
				break
			}
		}
		// (3)-(5) Remove leaders, and blobs that leave something behind.
		for {
			if strings.HasPrefix(s, " ") {
				s = s[1:]
			} else if n := refwdLeader(s); n > 0 {
				s = s[n:]
				replyOrFwd = true
			} else if n := blob(s, 0); n > 0 && strings.TrimLeft(s[n:], " ") != "" {
				s = s[n:]
			} else {
				break
			}
		}
		// (6) "[fwd: subject]" is the subject, forwarded.
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = s[5 : len(s)-1]
			replyOrFwd = true
			continue
		}
		return s, replyOrFwd
	}
}

func isSubjectSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }

// blob returns the length of the subj-blob at s[i:] ("[" *BLOBCHAR "]"
// *WSP), or 0 if there is none.
func blob(s string, i int) int {
	if i >= len(s) || s[i] != '[' {
		return 0
	}
	j := i + 1
	for j < len(s) && s[j] != ']' && s[j] != '[' {
		j++
	}
	if j >= len(s) || s[j] != ']' {
		return 0
	}
	j++
	for j < len(s) && s[j] == ' ' {
		j++
	}
	return j - i
}

// refwdLeader returns the length of *subj-blob subj-refwd at the start of
// s, where subj-refwd is ("re" / ("fw" ["d"])) *WSP [subj-blob] ":", or 0.
func refwdLeader(s string) int {
	i := 0
	for n := blob(s, i); n > 0; n = blob(s, i) {
		i += n
	}
	switch {
	case hasPrefixFold(s[i:], "re"):
		i += 2
	case hasPrefixFold(s[i:], "fwd"):
		i += 3
	case hasPrefixFold(s[i:], "fw"):
		i += 2
	default:
		return 0
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += blob(s, i)
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
