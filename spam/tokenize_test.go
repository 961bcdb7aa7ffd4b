package spam

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// has fails the test unless every want token is in toks.
func has(t *testing.T, toks []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(toks, w) {
			t.Errorf("missing token %q in %q", w, toks)
		}
	}
}

// hasNot fails the test if any token contains one of bad.
func hasNot(t *testing.T, toks []string, bad ...string) {
	t.Helper()
	for _, tok := range toks {
		for _, b := range bad {
			if strings.Contains(tok, b) {
				t.Errorf("unexpected token %q (contains %q)", tok, b)
			}
		}
	}
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestTokenizeHeaders(t *testing.T) {
	msg := crlf(`From sender@example.net Thu Aug 22 14:44:07 2002
Return-Path: <bounce@lists.example.org>
Delivered-To: user@our.example
List-Id: <talk.lists.example.org>
Received: from mail.sender.example (mail.sender.example [203.0.113.9])
	by mx.our.example with ESMTP id 1; Thu, 22 Aug 2002 14:44:07 +0100
Received: from localhost (localhost [127.0.0.1]) by mx.our.example
From: "Cheap Pills" <offers@pharma.example.com>
To: undisclosed-recipients:;
Subject: =?iso-8859-1?q?Gro=DFe_Rabatte?= NOW
X-Mailer: Mass Mailer Pro
X-Spam-Status: No, score=0.0
Content-Type: text/plain; charset=us-ascii

Buy now.
`)
	toks := Tokenize(msg)
	has(t, toks,
		"subject:große", "subject:rabatte", "subject:now",
		"from:name:cheap", "from:name:pills", "from:addr:offers@pharma.example.com",
		"from:domain:pharma.example.com", "from:domain:example.com",
		"received:mail.sender.example", "received:sender.example", "received:203.0.113.9", "received:203.0.113.",
		"x-mailer:mass", "x-mailer:mailer", "header:x-mailer",
		"content-type:text/plain", "charset:us-ascii", "buy",
	)
	// Delivery, list and filter fields and our own hosts never become
	// tokens: they describe the route, not the message.
	hasNot(t, toks, "bounce@", "lists.example.org", "our.example", "127.0.0.1", "localhost",
		"header:list-id", "header:delivered-to", "header:x-spam-status", "sender@example.net")
	// Tokens are distinct.
	seen := map[string]bool{}
	for _, tok := range toks {
		if seen[tok] {
			t.Errorf("duplicate token %q", tok)
		}
		seen[tok] = true
		if tok != strings.ToLower(tok) {
			t.Errorf("token %q not lower-cased", tok)
		}
	}
}

func TestTokenizeTransferEncodings(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("Incredible investment opportunity awaits"))
	msg := []byte("Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"BB\"\n\n" +
		"--BB\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" +
		b64[:20] + "\n" + b64[20:] + "\n" +
		"--BB\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n" +
		"Caf=E9 cr=E8me soft=\nware\n" +
		"--BB--\n")
	toks := Tokenize(msg)
	has(t, toks, "incredible", "investment", "opportunity", "awaits", "café", "crème", "software",
		"encoding:base64", "encoding:quoted-printable", "content-type:multipart/alternative")
	hasNot(t, toks, b64[:12])
}

func TestTokenizeHTML(t *testing.T) {
	msg := []byte(`Content-Type: text/html

<html><head><style>p { color: red }</style><script>var secretvar = 1;</script></head>
<body><p>Dear&nbsp;friend, V<!-- x -->iagra <b>cheap</b>!</p>
<a href="http://203.0.113.7:8080/promo/spring-sale?id=7">click</a>
<img src="https://img.tracker.example.com/pixel.gif">
<font size="+3" color="red">FREE</font></body></html>`)
	toks := Tokenize(msg)
	has(t, toks, "dear", "friend", "viagra", "cheap", "click", "free", "upper:free",
		"html:img", "html:font", "html:a", "html:comment", "html:script", "html:style", "html:font:size:+3", "html:only",
		"url:ip", "url:port", "url:203.0.113.7", "url:promo", "url:spring-sale",
		"url:img.tracker.example.com", "url:tracker.example.com", "url:example.com", "url:scheme:https")
	hasNot(t, toks, "secretvar", "color", "<", "href", "nbsp", "pixel.gif")
}

func TestTokenizeURLsInText(t *testing.T) {
	toks := Tokenize([]byte("Subject: s\n\nSee www.Shop.Example.co.uk/deals now, or http://user@evil.example/x."))
	has(t, toks, "url:www.shop.example.co.uk", "url:example.co.uk", "url:deals", "url:userinfo", "url:evil.example", "see", "now")
	hasNot(t, toks, "shop.example.co.uk/deals", "//")
	if slices.Contains(toks, "http") {
		t.Error("URL scheme tokenized as a word")
	}
}

func TestTokenizeCJK(t *testing.T) {
	toks := Tokenize([]byte("Subject: 你好世界\nContent-Type: text/plain; charset=utf-8\n\n你好世界 hello\n"))
	has(t, toks, "你好", "好世", "世界", "subject:你好", "subject:世界", "hello")
	hasNot(t, toks, "你好世", "你好世界")

	// The same text in GB2312, base64-encoded, as Chinese mail often was.
	raw, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("你好世界"))
	if err != nil {
		t.Fatal(err)
	}
	msg := "Content-Type: text/plain; charset=gb2312\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString(raw) + "\n"
	has(t, Tokenize([]byte(msg)), "你好", "好世", "世界", "charset:gb2312")
}

func TestTokenizeCharsets(t *testing.T) {
	// KOI8-R Cyrillic, 8-bit, and an undeclared Windows-1252 body.
	koi := []byte("Content-Type: text/plain; charset=koi8-r\n\n\xf0\xf2\xe9\xf7\xe5\xf4 \xed\xe9\xf2\n")
	has(t, Tokenize(koi), "привет", "мир")
	latin := []byte("Subject: s\n\nna\xefve r\xe9sum\xe9\n")
	has(t, Tokenize(latin), "naïve", "résumé")
}

func TestTokenizeLongWordsAndNumbers(t *testing.T) {
	toks := Tokenize([]byte("Subject: s\n\nsupercalifragilisticexpialidocious 1234567 $19.95 100% ok no\n"))
	has(t, toks, "skip:s 30", "$19.95", "100%")
	hasNot(t, toks, "1234567", "supercal")
	if slices.Contains(toks, "ok") || slices.Contains(toks, "no") {
		t.Errorf("short words kept: %q", toks)
	}
}

func TestTokenizeArtefactFilter(t *testing.T) {
	o := DefaultOptions()
	o.Ignore = CorpusArtefacts
	c := NewClassifier(o)
	toks := c.Tokens([]byte("To: zzzz@spamassassin.taint.org\nFrom: a@b.example\nSubject: hi there\n\nhello\n"))
	hasNot(t, toks, "taint.org", "zzzz")
	has(t, toks, "subject:there", "hello")
}
