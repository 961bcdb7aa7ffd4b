package imapd

import (
	"bytes"
	"testing"
)

// FuzzHeaderFields: any header gives CRLF lines ending in the blank line,
// and a field is either in the answer for a name or in the answer for its
// complement, never both.
func FuzzHeaderFields(f *testing.F) {
	f.Add([]byte("From: a@example.test\r\nSubject: x\r\n y\r\n\r\nbody"), "subject")
	f.Add([]byte("Subject\nno colon\n\tfold\r\n"), "from")
	f.Fuzz(func(t *testing.T, h []byte, name string) {
		in := headerFields(h, []string{name}, false)
		out := headerFields(h, []string{name}, true)
		for _, b := range [][]byte{in, out} {
			if !bytes.HasSuffix(b, []byte("\r\n")) {
				t.Fatalf("no final CRLF: %q", b)
			}
			if bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
				t.Fatalf("bare LF in %q", b)
			}
		}
		if len(in)+len(out) > 2*len(h)+4 {
			t.Fatalf("answers (%d+%d bytes) larger than the header (%d) allows", len(in), len(out), len(h))
		}
	})
}
