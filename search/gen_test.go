package search

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// The generated corpus: English, Chinese, Japanese, Korean and accented
// text in plain, alternative, base64, quoted-printable, attachment and
// non-UTF-8 shapes, with a few broken messages.

var english = strings.Fields(`the quick brown fox jumps over the lazy dog while running
to the meeting about quarterly report invoice delivery schedule budget customer support
ticket server mailbox search index password reset weekly update project launch review
draft contract payment overdue reminder thanks regards please find attached hello world`)

var cjkPhrases = []string{
	"我们明天开会讨论搜索引擎的性能问题", "中华人民共和国的邮件服务器", "全文检索系统已经上线",
	"请查收附件中的发票", "東京で会議があります", "こんにちは世界", "カタカナのテスト文章",
	"안녕하세요 회의 일정을 확인해 주세요", "서울특별시 강남구",
}

var accented = []string{"café crème brûlée", "naïve façade", "Ångström Müller", "Straße und Grüße", "ÉCOLE élève", "São Paulo ação"}

var names = []string{"José Müller", "张伟", "Ana Lúcia", "Bob Smith", "Carol Dupré", "田中太郎", "김민수", "Dave O'Neil"}
var domains = []string{"example.org", "example.com", "mail.test", "exämple.de"}

const qpWord = "Antidisestablishmentarianism"
const htmlOnly = "Zyxwhtmlonly"

func sentence(r *rand.Rand, words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := english[r.IntN(len(english))]
		if r.IntN(12) == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	return b.String()
}

// text makes a body of about n bytes mixing the languages.
func text(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		switch r.IntN(10) {
		case 0, 1:
			b.WriteString(cjkPhrases[r.IntN(len(cjkPhrases))])
		case 2:
			b.WriteString(accented[r.IntN(len(accented))])
		case 3:
			b.WriteString("Hello World, " + sentence(r, 4))
		default:
			b.WriteString(sentence(r, 6+r.IntN(10)))
		}
		if r.IntN(4) == 0 {
			b.WriteString(".\r\n")
		} else {
			b.WriteString(". ")
		}
	}
	return b.String()
}

func addr(r *rand.Rand) string {
	n := names[r.IntN(len(names))]
	local := fmt.Sprintf("user%d", r.IntN(50))
	return mime.QEncoding.Encode("utf-8", n) + " <" + local + "@" + domains[r.IntN(len(domains))] + ">"
}

func b64(s []byte) string {
	enc := base64.StdEncoding.EncodeToString(s)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.String()
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// genMessage returns message i of a deterministic corpus whose bodies are
// about size bytes (0: varied).
func genMessage(i, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	if size == 0 {
		size = 200 + r.IntN(3000)
	}
	var h strings.Builder
	subj := sentence(r, 3+r.IntN(4))
	switch r.IntN(5) {
	case 0:
		subj = mime.BEncoding.Encode("utf-8", cjkPhrases[r.IntN(len(cjkPhrases))]+" "+subj)
	case 1:
		subj = mime.QEncoding.Encode("iso-8859-1", string(must(charmap.ISO8859_1.NewEncoder().String("Café "+subj))))
	}
	fmt.Fprintf(&h, "From: %s\r\nTo: %s\r\n", addr(r), addr(r))
	if r.IntN(3) == 0 {
		fmt.Fprintf(&h, "Cc: %s, carol%d@example.net\r\n", addr(r), r.IntN(9))
	}
	if r.IntN(6) == 0 {
		fmt.Fprintf(&h, "Bcc: dave%d@example.net\r\n", r.IntN(9))
	}
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
	fmt.Fprintf(&h, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%d.gen@example.com>\r\nMIME-Version: 1.0\r\nX-Mailer: gen %d\r\n",
		subj, date.Format(time.RFC1123Z), i, i%7)
	body := text(r, size)
	var b strings.Builder
	kind := r.IntN(9)
	if size >= 4000 {
		kind = r.IntN(5) // benchmark corpus: the common shapes
	}
	switch kind {
	case 0, 1: // plain UTF-8, 8bit
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
	case 2: // alternative, the HTML part holding a word of its own
		b.WriteString("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		b.WriteString(qp(body) + "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(b64([]byte("<html><head><style>p{color:red}</style></head><body><p>" + strings.ReplaceAll(body, "&", "&amp;") +
			"</p><p><b>" + htmlOnly + fmt.Sprint(i%10) + "</b> caf&eacute; &lt;tag&gt;</p></body></html>")))
		b.WriteString("--alt--\r\n")
	case 3: // quoted-printable with long lines: soft breaks split words
		long := strings.ReplaceAll(body, "\r\n", " ") + " " + qpWord + " " + sentence(r, 8) + " " + qpWord
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(long) + "\r\n")
	case 4: // mixed with attachments, names in RFC 2231 and encoded words
		b.WriteString("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(b64([]byte(body)))
		b.WriteString("--mix\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"Quarterly-Report-Q3.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(b64([]byte("%PDF-1.4 binary stuff quick brown")))
		b.WriteString("--mix\r\nContent-Type: application/octet-stream; name=\"" + mime.BEncoding.Encode("utf-8", "發票2024.xlsx") + "\"\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(b64([]byte{0, 1, 2, 3}))
		b.WriteString("--mix--\r\n")
	case 5: // ISO-8859-1
		lat := strings.Join(accented, ". ") + ". " + sentence(r, 20)
		b.WriteString("Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		b.WriteString(qp(must(charmap.ISO8859_1.NewEncoder().String(lat))) + "\r\n")
	case 6: // GB2312
		zh := cjkPhrases[r.IntN(4)] + "，" + cjkPhrases[r.IntN(4)] + " " + sentence(r, 5)
		b.WriteString("Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(b64([]byte(must(simplifiedchinese.GBK.NewEncoder().String(zh)))))
	case 7: // nested message
		b.WriteString("Content-Type: multipart/mixed; boundary=\"out\"\r\n\r\n--out\r\nContent-Type: text/plain\r\n\r\nForwarded below.\r\n--out\r\nContent-Type: message/rfc822\r\n\r\n")
		b.WriteString("Subject: inner forwarded note\r\nFrom: inner@example.org\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n--out--\r\n")
	default: // broken: one of several kinds of damage
		switch i % 4 {
		case 0:
			b.WriteString("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64([]byte(body))[:40] + "!!not base64!!\r\n")
		case 1:
			b.WriteString("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + body + "\r\n") // no closing
		case 2:
			b.WriteString("Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n" + body + "\r\n")
		case 3:
			b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\xff\xfe bad bytes\r\n")
		}
	}
	return []byte(h.String() + b.String())
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
