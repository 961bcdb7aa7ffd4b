package imapserver

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionSort is an IMAP session which supports SORT (RFC 5256) and its
// extended form ESORT (RFC 5267).
type SessionSort interface {
	Session

	// Selected state

	// Sort returns the numbers of the messages that match criteria, in the
	// order options.SortCriteria give. When options.Return is not nil it
	// holds ESORT's RETURN options; the session saves the result if they
	// ask for SAVE (RFC 5182), the rest is the server's work.
	Sort(kind NumKind, criteria *imap.SearchCriteria, options *imap.SortOptions) ([]uint32, error)
}

func (c *Conn) handleSort(tag string, dec *imapwire.Decoder, numKind NumKind) error {
	sortSession, ok := c.session.(SessionSort)
	if !ok {
		return newClientBugError("SORT is not supported")
	}
	if !dec.ExpectSP() {
		return dec.Err()
	}
	var options imap.SortOptions
	var atom string
	if dec.Atom(&atom) {
		if !strings.EqualFold(atom, "RETURN") {
			return newClientBugError("expected RETURN or a list of sort criteria")
		}
		options.Return = new(imap.SearchOptions)
		if err := readSearchReturnOpts(dec, options.Return); err != nil {
			return fmt.Errorf("in sort-return-opts: %w", err)
		}
		if !dec.ExpectSP() {
			return dec.Err()
		}
		// RFC 5267 section 3.1: RETURN () means ALL.
		r := options.Return
		if !r.ReturnMin && !r.ReturnMax && !r.ReturnAll && !r.ReturnCount && !r.ReturnSave {
			r.ReturnAll = true
		}
	}
	criteria, err := readSortCriteria(dec)
	if err != nil {
		return err
	}
	options.SortCriteria = criteria
	if !dec.ExpectSP() {
		return dec.Err()
	}
	search, err := readCharsetSearchCriteria(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}

	nums, err := sortSession.Sort(numKind, search, &options)
	if err != nil {
		return err
	}
	if options.Return != nil {
		return c.writeESort(tag, nums, options.Return, numKind)
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("SORT")
	for _, num := range nums {
		enc.SP().Number(num)
	}
	return enc.CRLF()
}

// readSortCriteria reads sort-criteria (RFC 5256 section 5).
func readSortCriteria(dec *imapwire.Decoder) ([]imap.SortCriterion, error) {
	var criteria []imap.SortCriterion
	reverse := false
	err := dec.ExpectList(func() error {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		key := imap.SortKey(strings.ToUpper(name))
		if key == "REVERSE" && !reverse {
			reverse = true
			if !dec.ExpectSP() || !dec.ExpectAtom(&name) {
				return dec.Err()
			}
			key = imap.SortKey(strings.ToUpper(name))
		}
		switch key {
		case imap.SortKeyArrival, imap.SortKeyCc, imap.SortKeyDate, imap.SortKeyFrom,
			imap.SortKeySize, imap.SortKeySubject, imap.SortKeyTo:
		default:
			return newClientBugError(fmt.Sprintf("unknown sort key %q", name))
		}
		criteria = append(criteria, imap.SortCriterion{Key: key, Reverse: reverse})
		reverse = false
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(criteria) == 0 {
		return nil, newClientBugError("SORT needs at least one sort key")
	}
	return criteria, nil
}

// readCharsetSearchCriteria reads "charset 1*(SP search-key)" and the end
// of the line, as SORT and THREAD take them (RFC 5256 section 5).
func readCharsetSearchCriteria(dec *imapwire.Decoder) (*imap.SearchCriteria, error) {
	var charset string
	if !dec.ExpectAString(&charset) || !dec.ExpectSP() {
		return nil, dec.Err()
	}
	switch strings.ToUpper(charset) {
	case "US-ASCII", "UTF-8":
	default:
		return nil, &imap.Error{
			Type: imap.StatusResponseTypeNo,
			Code: imap.ResponseCodeBadCharset,
			Text: "Only US-ASCII and UTF-8 are supported charsets",
		}
	}
	var criteria imap.SearchCriteria
	for {
		if err := readSearchKey(&criteria, dec); err != nil {
			return nil, fmt.Errorf("in search-key: %w", err)
		}
		if !dec.SP() {
			break
		}
	}
	if !dec.ExpectCRLF() {
		return nil, dec.Err()
	}
	return &criteria, nil
}

// writeESort answers an extended SORT with ESEARCH (RFC 5267 section
// 3.2): MIN and MAX are the first and last in sort order, and ALL lists
// the messages in sort order.
func (c *Conn) writeESort(tag string, nums []uint32, options *imap.SearchOptions, numKind NumKind) error {
	if !options.ReturnMin && !options.ReturnMax && !options.ReturnAll && !options.ReturnCount {
		return nil // SAVE alone: no ESEARCH (RFC 5182 section 2.4)
	}
	enc := newResponseEncoder(c)
	defer enc.end()

	enc.Atom("*").SP().Atom("ESEARCH")
	if tag != "" {
		enc.SP().Special('(').Atom("TAG").SP().String(tag).Special(')')
	}
	if numKind == NumKindUID {
		enc.SP().Atom("UID")
	}
	if len(nums) > 0 {
		if options.ReturnMin {
			enc.SP().Atom("MIN").SP().Number(nums[0])
		}
		if options.ReturnMax {
			enc.SP().Atom("MAX").SP().Number(nums[len(nums)-1])
		}
	}
	if options.ReturnCount {
		enc.SP().Atom("COUNT").SP().Number(uint32(len(nums)))
	}
	if options.ReturnAll && len(nums) > 0 {
		enc.SP().Atom("ALL").SP().Atom(orderedSet(nums))
	}
	return enc.CRLF()
}

// orderedSet writes nums as a sequence-set that keeps their order: only
// ascending runs become ranges.
func orderedSet(nums []uint32) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(nums[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(nums[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}
