package imapclient_test

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// A session without SORT, THREAD or MULTIAPPEND does not get them
// advertised, and SORT gets a BAD.
func TestSortNotAdvertised(t *testing.T) {
	client, server := newClientServerPair(t, imap.ConnStateSelected)
	defer client.Close()
	defer server.Close()

	caps, err := client.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []imap.Cap{imap.CapSort, imap.CapESort, imap.CapMultiAppend, "THREAD=REFERENCES"} {
		if caps.Has(c) {
			t.Errorf("%s advertised by a session without it", c)
		}
	}
	_, err = client.Sort(&imapclient.SortOptions{SearchCriteria: &imap.SearchCriteria{},
		SortCriteria: []imapclient.SortCriterion{{Key: imapclient.SortKeyDate}}}).Wait()
	if e, ok := err.(*imap.Error); !ok || e.Type != imap.StatusResponseTypeBad {
		t.Errorf("SORT without support: %v", err)
	}
}
