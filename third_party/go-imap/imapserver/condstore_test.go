package imapserver

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

func decoderFor(s string) *imapwire.Decoder {
	dec := imapwire.NewDecoder(bufio.NewReader(strings.NewReader(s)), imapwire.ConnSideServer)
	dec.MaxSize = maxCommandSize
	return dec
}

// parseErrOK reports whether err is a syntax error a client is told about
// with BAD (and not an internal error).
func parseErrOK(err error) bool {
	var imapErr *imap.Error
	var decErr *imapwire.DecoderExpectError
	// A line cut short is the client going away, not a parse error.
	return errors.As(err, &imapErr) || errors.As(err, &decErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func TestReadSelectParams(t *testing.T) {
	var opts imap.SelectOptions
	if err := readSelectParams(decoderFor("(CONDSTORE QRESYNC (67890007 90060115194045000 41:211,214:541 (1:5 41:45)))"), &opts); err != nil {
		t.Fatal(err)
	}
	q := opts.QResync
	if !opts.CondStore || q == nil || q.UIDValidity != 67890007 || q.ModSeq != 90060115194045000 ||
		q.KnownUIDs.String() != "41:211,214:541" || q.SeqMatch == nil ||
		q.SeqMatch.SeqNums.String() != "1:5" || q.SeqMatch.UIDs.String() != "41:45" {
		t.Errorf("got %+v %+v", opts, q)
	}
	for _, bad := range []string{
		"()", "(QRESYNC)", "(QRESYNC (1))", "(QRESYNC (0 1))", "(QRESYNC (1 0))",
		"(QRESYNC (1 2 1:* ))", "(QRESYNC (1 2 (1:2 3)))", "(QRESYNC (1 2 (1:* 1:2)))",
		"(QRESYNC (1 2) QRESYNC (1 2))", "(FOO)", "(QRESYNC (1 18446744073709551616))",
	} {
		var opts imap.SelectOptions
		if err := readSelectParams(decoderFor(bad), &opts); err == nil || !parseErrOK(err) {
			t.Errorf("%q: err = %v, want a syntax error", bad, err)
		}
	}
}

// FuzzCondStoreParams feeds the CONDSTORE and QRESYNC parameter parsers:
// they never panic, fail only with errors the client gets as BAD, and
// what they accept is valid.
func FuzzCondStoreParams(f *testing.F) {
	for _, s := range []string{
		"(CONDSTORE)",
		"(QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
		"(QRESYNC (1 2 1:* (1:3,5 10:12,14)))",
		"(CHANGEDSINCE 12345 VANISHED)",
		"UNCHANGEDSINCE 0)",
		"\"/flags/\\\\Seen\" all 620162338",
		"620162338",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s += "\r\n"
		var sel imap.SelectOptions
		if err := readSelectParams(decoderFor(s), &sel); err != nil {
			if !parseErrOK(err) {
				t.Fatalf("select params %q: unexpected error %v", s, err)
			}
		} else if q := sel.QResync; q != nil {
			if q.UIDValidity == 0 || q.ModSeq == 0 {
				t.Fatalf("accepted zero UIDVALIDITY or MODSEQ: %q", s)
			}
			if m := q.SeqMatch; m != nil && !sameSize(m.SeqNums, m.UIDs) {
				t.Fatalf("accepted seq-match-data of unequal sizes: %q", s)
			}
		}
		var fetch imap.FetchOptions
		if err := readFetchModifiers(decoderFor(s), &fetch); err != nil && !parseErrOK(err) {
			t.Fatalf("fetch modifiers %q: unexpected error %v", s, err)
		} else if err == nil && fetch.ChangedSince == 0 && !fetch.Vanished {
			t.Fatalf("fetch modifiers %q accepted as nothing", s)
		}
		var store imap.StoreOptions
		if _, err := readStoreModifiersRest(decoderFor(s), &store); err != nil && !parseErrOK(err) {
			t.Fatalf("store modifiers %q: unexpected error %v", s, err)
		}
		if _, err := readSearchKeyModSeq(decoderFor(" " + s)); err != nil && !parseErrOK(err) {
			t.Fatalf("search MODSEQ %q: unexpected error %v", s, err)
		}
	})
}
