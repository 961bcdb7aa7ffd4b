package spam

import (
	"testing"
	"unicode/utf8"
)

// FuzzTokenize checks that no input makes Tokenize panic or emit empty,
// invalid-UTF-8 or duplicate tokens. Seeds live in testdata/fuzz/FuzzTokenize.
func FuzzTokenize(f *testing.F) {
	f.Add([]byte("Subject: hi\n\nhello world\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--x--\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		seen := map[string]bool{}
		for _, tok := range Tokenize(msg) {
			if tok == "" || !utf8.ValidString(tok) || seen[tok] {
				t.Fatalf("bad token %q", tok)
			}
			seen[tok] = true
		}
	})
}
