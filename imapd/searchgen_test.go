package imapd

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"frontdesk/store"
)

// The generated mailbox of the exact-search test and benchmark: English,
// Chinese and accented text; plain, alternative (HTML in base64), quoted-
// printable, GBK and mixed-with-attachments shapes; 500 B to 40 KB; varied
// dates and flags. Generation is deterministic, so a failure reproduces.

const genCount = 2000

// Marker strings whose messages the generator records, so the test can
// check the linear scan itself against what was generated.
const (
	genRare     = "Quetzalcoatl"            // in about 1 message of 200
	genHTMLOnly = "Zyxhtmlmarker"           // only in the HTML alternative
	genAttName  = "Quarterly-Report-Q3.pdf" // attachment file name
	genAttCJK   = "發票清單.xlsx"               // attachment name, an encoded word
	genQPWord   = "Antidisestablishmentarianism"
)

var genEnglish = strings.Fields(`the quick brown fox jumps over lazy dog while running to
the meeting about quarterly report invoice delivery schedule budget customer support ticket
server mailbox search index password reset weekly update project launch review draft contract
payment overdue reminder thanks regards please find attached hello world meeting meeting`)

var genChinese = []string{
	"我们明天开会讨论搜索引擎的性能问题", "全文检索系统已经上线", "请查收附件中的发票",
	"中华人民共和国的邮件服务器", "客户支持工单已经关闭", "本周项目进度更新",
}

var genAccented = []string{"café crème brûlée", "naïve façade", "Ångström Müller", "Straße und Grüße", "ÉCOLE élève", "São Paulo ação"}

var genNames = []string{"José Müller", "张伟", "Ana Lúcia", "Bob Smith", "Carol Dupré", "李娜", "Dave O'Neil", "Erin Walsh"}
var genDomains = []string{"example.org", "example.net", "mail.test", "corp.example"}

// genMsg is one generated message and what the test needs to know of it.
type genMsg struct {
	data     []byte
	internal time.Time // INTERNALDATE
	flags    []string  // set with store.SetFlags after delivery
	html     bool      // has the HTML-only marker
	attach   bool      // has the attachments
	rare     bool      // has genRare in its body
}

var (
	genOnce sync.Once
	genMsgs []genMsg
)

// generated returns the corpus, built once per test binary.
func generated() []genMsg {
	genOnce.Do(func() {
		genMsgs = make([]genMsg, genCount)
		for i := range genMsgs {
			genMsgs[i] = genMessage(i)
		}
	})
	return genMsgs
}

func genSentence(r *rand.Rand, words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := genEnglish[r.IntN(len(genEnglish))]
		if r.IntN(10) == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	return b.String()
}

// genText makes about n bytes of mixed-language text.
// Accented words are left out when accents is false (GBK has no ç).
func genText(r *rand.Rand, n int, accents bool) string {
	var b strings.Builder
	for b.Len() < n {
		switch r.IntN(10) {
		case 0, 1:
			b.WriteString(genChinese[r.IntN(len(genChinese))])
		case 2:
			if accents {
				b.WriteString(genAccented[r.IntN(len(genAccented))])
			}
		default:
			b.WriteString(genSentence(r, 5+r.IntN(10)))
		}
		if r.IntN(4) == 0 {
			b.WriteString(".\r\n")
		} else {
			b.WriteString(". ")
		}
	}
	return b.String()
}

func genAddr(r *rand.Rand, local string) string {
	n := genNames[r.IntN(len(genNames))]
	return mime.QEncoding.Encode("utf-8", n) + " <" + local + "@" + genDomains[r.IntN(len(genDomains))] + ">"
}

func genB64(s []byte) string {
	enc := base64.StdEncoding.EncodeToString(s)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.String()
}

func genQP(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// genMessage returns message i of the corpus.
func genMessage(i int) genMsg {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	g := genMsg{}
	// Sizes spread over 500 B .. 40 KB, most small as in real mail (median
	// about 900 B, mean about 4 KB); the body takes what the header and
	// MIME framing leave, encodings included.
	u := r.Float64()
	size := int(500 * math.Pow(76, u*u*u))
	var h strings.Builder
	subj := genSentence(r, 3+r.IntN(4))
	switch r.IntN(4) {
	case 0:
		subj = mime.BEncoding.Encode("utf-8", genChinese[r.IntN(len(genChinese))]+" "+subj)
	case 1:
		subj = mime.QEncoding.Encode("utf-8", "Café "+subj)
	}
	fmt.Fprintf(&h, "From: %s\r\nTo: %s\r\n", genAddr(r, fmt.Sprintf("user%d", r.IntN(40))), genAddr(r, fmt.Sprintf("bob%d", r.IntN(5))))
	if r.IntN(3) == 0 {
		fmt.Fprintf(&h, "Cc: %s, carol%d@example.net\r\n", genAddr(r, "cc"), r.IntN(9))
	}
	if r.IntN(6) == 0 {
		fmt.Fprintf(&h, "Bcc: dave%d@example.net\r\n", r.IntN(9))
	}
	g.internal = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i*5+r.IntN(5)) * time.Hour)
	// The Date header is earlier than INTERNALDATE, in a zone of its own.
	zone := time.FixedZone("", (r.IntN(25)-12)*3600)
	sent := g.internal.Add(-time.Duration(r.IntN(48)) * time.Hour).In(zone)
	fmt.Fprintf(&h, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%d.gen@example.com>\r\nMIME-Version: 1.0\r\nX-Mailer: genmailer %d\r\n",
		subj, sent.Format(time.RFC1123Z), i, i%7)
	kind := r.IntN(6)
	// Big mail is mostly big for its attachments: three in four messages
	// over 8 KB carry a binary one (not text, so never searched) and a
	// shorter text.
	pad := 0
	n := size - h.Len() - 200
	if size > 8000 && r.IntN(4) != 0 {
		kind = 2
		n = 1000 + r.IntN(4000)
		pad = size - h.Len() - n*4/3 - 900
	}
	switch kind {
	case 0: // the text twice: quoted-printable (CJK triples) and base64
		n = n / 3
	case 1: // quoted-printable
		n = n * 2 / 3
	case 2: // the text in base64, and the attachments' framing
		n = (n - 900) * 3 / 4
	}
	body := genText(r, max(n, 60), kind != 3)
	g.rare = r.IntN(200) == 0 || i == 1234
	tail := genSentence(r, 8)
	for {
		text := body
		if g.rare {
			text += " " + genRare + " was here.\r\n"
		}
		g.data = []byte(h.String() + genBody(kind, text, tail, pad*3/4))
		switch {
		case len(g.data) < 500:
			body += genText(r, 500-len(g.data), kind != 3)
			continue
		case len(g.data) > 40<<10:
			cut := len(body) * 9 / 10
			for !utf8.RuneStart(body[cut]) {
				cut--
			}
			body = body[:cut]
			continue
		}
		break
	}
	g.html, g.attach = kind == 0, kind == 2

	// Flags: most read, some flagged, answered, deleted, with keywords.
	if r.IntN(10) < 6 {
		g.flags = append(g.flags, store.FlagSeen)
	}
	if r.IntN(10) == 0 {
		g.flags = append(g.flags, store.FlagFlagged)
	}
	if r.IntN(8) == 0 {
		g.flags = append(g.flags, store.FlagAnswered)
	}
	if r.IntN(20) == 0 {
		g.flags = append(g.flags, store.FlagDeleted)
	}
	if r.IntN(7) == 0 {
		g.flags = append(g.flags, "$Important")
	}
	if r.IntN(13) == 0 {
		g.flags = append(g.flags, "project-x")
	}
	return g
}

// genBody returns the MIME body of a message of the given kind, with pad
// bytes of binary attachment in the mixed kind.
func genBody(kind int, body, tail string, pad int) string {
	var b strings.Builder
	switch kind {
	case 0: // alternative: the HTML part, in base64, holds a marker of its own
		b.WriteString("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		b.WriteString(genQP(body) + "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(genB64([]byte("<html><head><style>p{color:red}</style></head><body><p>" + strings.ReplaceAll(body, "&", "&amp;") +
			"</p><p><b>" + genHTMLOnly + "</b> caf&eacute; &lt;tag&gt;</p></body></html>")))
		b.WriteString("--alt--\r\n")
	case 1: // quoted-printable with long lines: soft breaks split words
		long := strings.ReplaceAll(body, "\r\n", " ") + " " + genQPWord + " " + tail
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + genQP(long) + "\r\n")
	case 2: // mixed: text in base64, attachments named in ASCII and in an encoded word
		b.WriteString("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(genB64([]byte(body)))
		b.WriteString("--mix\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"" + genAttName +
			"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		pdf := []byte("%PDF-1.4 binary stuff xyzzyattachmentbytes\n")
		for i := 0; len(pdf) < pad; i++ {
			pdf = append(pdf, byte(i*131+i>>8))
		}
		b.WriteString(genB64(pdf))
		b.WriteString("--mix\r\nContent-Type: application/octet-stream; name=\"" + mime.BEncoding.Encode("utf-8", genAttCJK) +
			"\"\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(genB64([]byte{0, 1, 2, 3, 0xff}))
		b.WriteString("--mix--\r\n")
	case 3: // GBK in base64
		gbk, err := simplifiedchinese.GBK.NewEncoder().String(body)
		if err != nil {
			panic(err)
		}
		b.WriteString("Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n" + genB64([]byte(gbk)))
	default: // plain UTF-8, 8bit
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
	}
	return b.String()
}
