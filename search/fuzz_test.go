package search

import (
	"encoding/base64"
	"mime"
	"mime/quotedprintable"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for Extract and Fold. Seeds live in testdata/fuzz/<FuzzName>;
// run one with e.g.
//
//	go test ./search -run '^$' -fuzz '^FuzzExtract$' -fuzztime 30s

// FuzzExtract: any bytes extract without panic to valid UTF-8 of bounded
// size, and every part of every field folds to a part of the folded field,
// as Candidates' exactness needs.
func FuzzExtract(f *testing.F) {
	f.Add([]byte("From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		d := Extract(msg)
		fields := map[string]string{"Subject": d.Subject, "From": d.From, "To": d.To, "Cc": d.Cc, "Bcc": d.Bcc,
			"Header": d.Header, "Body": d.Body}
		for i, a := range d.Attachments {
			fields["Attachment"+string(rune('0'+i%10))] = a
		}
		total := 0
		for name, s := range fields {
			if !utf8.ValidString(s) {
				t.Fatalf("%s %q is not UTF-8", name, s)
			}
			total += len(s)
			fs := Fold(s)
			if utf8.RuneCountInString(fs) != utf8.RuneCountInString(s) {
				t.Fatalf("Fold(%s %q) = %q changes the rune count", name, s, fs)
			}
			r := []rune(s)
			if len(r) > 2 {
				i, j := len(msg)%len(r), len(r)-1
				if i > j {
					i, j = j, i
				}
				if sub := string(r[i:j]); !strings.Contains(fs, Fold(sub)) {
					t.Fatalf("%s: Fold(%q) is not in Fold(%q)", name, sub, s)
				}
			}
		}
		if total > 16*len(msg)+1024 {
			t.Fatalf("%d bytes of text from a %d-byte message", total, len(msg))
		}
	})
}

// FuzzExtractText: a plain UTF-8 message loses nothing. Its subject,
// Q-encoded, comes back trimmed; its body, sent 8bit, quoted-printable or
// base64, comes back with CRLF as LF and trailing newlines dropped.
func FuzzExtractText(f *testing.F) {
	f.Add("Réunion ΣΑΣ lundi", "Bonjour,\r\n\r\nla réunion est à 10 h.\r\n")
	f.Fuzz(func(t *testing.T, subject, body string) {
		if !utf8.ValidString(subject) || !utf8.ValidString(body) || strings.Contains(subject, "=?") || len(body) > 1<<16 {
			return
		}
		want := strings.TrimRight(cleanString(body), "\n")
		hdr := "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: " +
			mime.QEncoding.Encode("utf-8", subject) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
		var qp strings.Builder
		w := quotedprintable.NewWriter(&qp)
		w.Binary = true // else the writer itself turns a lone CR or LF into CRLF
		w.Write([]byte(body))
		w.Close()
		for cte, enc := range map[string]string{
			"8bit":             body,
			"quoted-printable": qp.String(),
			"base64":           base64.StdEncoding.EncodeToString([]byte(body)),
		} {
			d := Extract([]byte(hdr + "Content-Transfer-Encoding: " + cte + "\r\n\r\n" + enc))
			if d.Body != want || d.Partial {
				t.Fatalf("%s body %q extracts as %q (partial %v)", cte, body, d.Body, d.Partial)
			}
			if ws := strings.TrimSpace(cleanString(subject)); d.Subject != ws {
				t.Fatalf("subject %q extracts as %q, want %q", subject, d.Subject, ws)
			}
			if d.From != "Ann <ann@example.org>" || d.To != "<bob@example.org>" {
				t.Fatalf("from %q to %q", d.From, d.To)
			}
		}
	})
}

// FuzzFold: Fold keeps the rune count, gives valid UTF-8, maps rune by rune
// (so the ASCII fast path agrees with the general one), is idempotent and
// ignores case.
func FuzzFold(f *testing.F) {
	f.Add("ΣΑΣ straße K İı ſ ǅ")
	f.Fuzz(func(t *testing.T, s string) {
		fs := Fold(s)
		if utf8.RuneCountInString(fs) != utf8.RuneCountInString(s) || !utf8.ValidString(fs) {
			t.Fatalf("Fold(%q) = %q", s, fs)
		}
		var b strings.Builder
		for _, r := range s {
			b.WriteRune(foldRune(r))
		}
		if b.String() != fs {
			t.Fatalf("Fold(%q) = %q, rune by rune %q", s, fs, b.String())
		}
		if ffs := Fold(fs); ffs != fs {
			t.Fatalf("Fold(%q) = %q, Fold of that %q", s, fs, ffs)
		}
		if utf8.ValidString(s) {
			if u, l := Fold(strings.ToUpper(s)), Fold(strings.ToLower(s)); u != fs || l != fs {
				t.Fatalf("Fold(%q) = %q, of upper case %q, of lower case %q", s, fs, u, l)
			}
		}
	})
}
