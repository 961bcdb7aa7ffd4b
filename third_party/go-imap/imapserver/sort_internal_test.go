package imapserver

import (
	"bufio"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

func TestOrderedSet(t *testing.T) {
	for _, tc := range []struct {
		nums []uint32
		want string
	}{
		{[]uint32{1}, "1"},
		{[]uint32{3, 5, 1, 2, 4, 6, 7, 8}, "3,5,1:2,4,6:8"},
		{[]uint32{5, 4, 3}, "5,4,3"},
		{[]uint32{1, 2, 3, 10, 11}, "1:3,10:11"},
	} {
		if got := orderedSet(tc.nums); got != tc.want {
			t.Errorf("orderedSet(%v) = %q, want %q", tc.nums, got, tc.want)
		}
	}
}

func TestWriteThread(t *testing.T) {
	leaf := func(n uint32) imap.ThreadData { return imap.ThreadData{Chain: []uint32{n}} }
	for _, tc := range []struct {
		thread imap.ThreadData
		want   string
	}{
		{leaf(2), "(2)"},
		// RFC 5256 section 4's example.
		{imap.ThreadData{Chain: []uint32{3, 6}, SubThreads: []imap.ThreadData{
			{Chain: []uint32{4, 23}},
			{Chain: []uint32{44, 7, 96}},
		}}, "(3 6 (4 23)(44 7 96))"},
		// A single child continues the chain.
		{imap.ThreadData{Chain: []uint32{1}, SubThreads: []imap.ThreadData{
			{Chain: []uint32{2}, SubThreads: []imap.ThreadData{leaf(3)}},
		}}, "(1 2 3)"},
		// A missing root above two threads.
		{imap.ThreadData{SubThreads: []imap.ThreadData{leaf(6), leaf(7)}}, "((6)(7))"},
	} {
		var sb strings.Builder
		bw := bufio.NewWriter(&sb)
		if err := writeThread(imapwire.NewEncoder(bw, imapwire.ConnSideServer), &tc.thread); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		if sb.String() != tc.want {
			t.Errorf("writeThread(%+v) = %q, want %q", tc.thread, sb.String(), tc.want)
		}
	}
}
