package imapserver

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionThread is an IMAP session which supports THREAD (RFC 5256).
type SessionThread interface {
	Session

	// ThreadAlgorithms returns the algorithms the session implements; each
	// is advertised as a THREAD= capability.
	ThreadAlgorithms() []imap.ThreadAlgorithm

	// Selected state

	// Thread returns the threads of the messages that match criteria.
	Thread(kind NumKind, algorithm imap.ThreadAlgorithm, criteria *imap.SearchCriteria) ([]imap.ThreadData, error)
}

func (c *Conn) handleThread(dec *imapwire.Decoder, numKind NumKind) error {
	threadSession, ok := c.session.(SessionThread)
	if !ok {
		return newClientBugError("THREAD is not supported")
	}
	var name string
	if !dec.ExpectSP() || !dec.ExpectAtom(&name) || !dec.ExpectSP() {
		return dec.Err()
	}
	var algorithm imap.ThreadAlgorithm
	for _, alg := range threadSession.ThreadAlgorithms() {
		if strings.EqualFold(name, string(alg)) {
			algorithm = alg
		}
	}
	if algorithm == "" {
		return newClientBugError(fmt.Sprintf("unknown threading algorithm %q", name))
	}
	criteria, err := readCharsetSearchCriteria(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	threads, err := threadSession.Thread(numKind, algorithm, criteria)
	if err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("THREAD")
	if len(threads) > 0 {
		enc.SP()
	}
	for i := range threads {
		if err := writeThread(enc.Encoder, &threads[i]); err != nil {
			return err
		}
	}
	return enc.CRLF()
}

// writeThread writes a thread-list (RFC 5256 section 5). A single
// sub-thread continues the chain, since thread-nested needs two.
func writeThread(enc *imapwire.Encoder, t *imap.ThreadData) error {
	chain := t.Chain
	subs := t.SubThreads
	for len(subs) == 1 {
		chain = append(chain[:len(chain):len(chain)], subs[0].Chain...)
		subs = subs[0].SubThreads
	}
	if len(chain) == 0 && len(subs) < 2 {
		return fmt.Errorf("imapserver: thread with no message")
	}
	enc.Special('(')
	for i, num := range chain {
		if i > 0 {
			enc.SP()
		}
		enc.Number(num)
	}
	if len(chain) > 0 && len(subs) > 0 {
		enc.SP()
	}
	for i := range subs {
		if err := writeThread(enc, &subs[i]); err != nil {
			return err
		}
	}
	enc.Special(')')
	return nil
}
