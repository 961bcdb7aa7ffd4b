package imapserver

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionMultiAppend is an IMAP session which supports MULTIAPPEND (RFC
// 3502): one APPEND carrying several messages, stored all or none.
//
// The server reads every message of the command before it calls
// MultiAppend; an APPEND with a single message still goes to Append.
type SessionMultiAppend interface {
	Session

	// Authenticated state
	MultiAppend(mailbox string, messages []AppendMessage) (*imap.MultiAppendData, error)
}

// AppendMessage is one message of a MULTIAPPEND command.
type AppendMessage struct {
	Options imap.AppendOptions
	Literal []byte
}

// maxMultiAppend bounds the messages of one APPEND, which are all held
// until the command ends.
const maxMultiAppend = 10000

// bytesLiteral is a message read ahead, handed to Session.Append.
type bytesLiteral struct{ *bytes.Reader }

func (l bytesLiteral) Size() int64 { return l.Reader.Size() }

func (c *Conn) handleMultiAppend(tag string, dec *imapwire.Decoder, mailbox string, session SessionMultiAppend) error {
	appendLimit := int64(defaultAppendLimit)
	if appendLimitSession, ok := c.session.(SessionAppendLimit); ok {
		appendLimit = int64(appendLimitSession.AppendLimit())
	}
	// The whole command is held in memory until it commits; it may carry
	// as much as one message may be.
	var (
		messages []AppendMessage
		total    int64
		failed   error
	)
	if !dec.ExpectSP() {
		return dec.Err()
	}
	for {
		var msg AppendMessage
		lit, nonSync, utf8, err := readAppendMessage(dec, &msg.Options)
		if err != nil {
			return err
		}
		if failed == nil {
			total += lit.Size()
			switch {
			case len(messages) >= maxMultiAppend:
				failed = &imap.Error{
					Type: imap.StatusResponseTypeNo,
					Code: imap.ResponseCodeLimit,
					Text: fmt.Sprintf("APPEND is limited to %v messages", maxMultiAppend),
				}
			case lit.Size() > appendLimit || total > appendLimit:
				failed = &imap.Error{
					Type: imap.StatusResponseTypeNo,
					Code: imap.ResponseCodeTooBig,
					Text: fmt.Sprintf("APPEND is limited to %v bytes in all", appendLimit),
				}
			case c.checkState(imap.ConnStateAuthenticated) != nil:
				failed = c.checkState(imap.ConnStateAuthenticated)
			}
		}
		if failed != nil {
			// A synchronizing literal is refused by the tagged answer; a
			// non-synchronizing one is on its way and must be skipped.
			if !nonSync {
				return failed
			}
			if _, err := io.Copy(io.Discard, lit); err != nil {
				return &connLostError{err}
			}
		} else {
			if err := c.acceptLiteral(lit.Size(), nonSync); err != nil {
				return err
			}
			c.setReadTimeout(literalReadTimeout)
			msg.Literal = make([]byte, lit.Size())
			_, err := io.ReadFull(lit, msg.Literal)
			if err == nil {
				// Reading to EOF hands the decoder back the line.
				_, err = io.Copy(io.Discard, lit)
			}
			c.setReadTimeout(cmdReadTimeout)
			if err != nil {
				return &connLostError{err}
			}
			messages = append(messages, msg)
		}
		if utf8 && !dec.ExpectSpecial(')') {
			return dec.Err()
		}
		// SP before the next message, or the end of the command.
		if !dec.SP() {
			break
		}
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	if failed != nil {
		return failed
	}

	if len(messages) == 1 {
		msg := &messages[0]
		data, err := c.session.Append(mailbox, bytesLiteral{bytes.NewReader(msg.Literal)}, &msg.Options)
		if err != nil {
			return err
		}
		if err := c.poll("APPEND"); err != nil {
			return err
		}
		return c.writeAppendOK(tag, data)
	}
	data, err := session.MultiAppend(mailbox, messages)
	if err != nil {
		return err
	}
	if err := c.poll("APPEND"); err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom(tag).SP().Atom("OK").SP()
	if data != nil {
		enc.Special('[')
		enc.Atom("APPENDUID").SP().Number(data.UIDValidity).SP().NumSet(data.UIDs)
		enc.Special(']').SP()
	}
	enc.Text("APPEND completed")
	return enc.CRLF()
}

// readAppendMessage reads one message of APPEND, after the SP before it,
// up to its literal's header: [flag-list SP] [date-time SP] literal, or
// the UTF8 data extension of RFC 6855 (then the caller reads the closing
// parenthesis).
func readAppendMessage(dec *imapwire.Decoder, options *imap.AppendOptions) (lit *imapwire.LiteralReader, nonSync, utf8 bool, err error) {
	hasFlagList, err := dec.List(func() error {
		flag, err := internal.ExpectFlag(dec)
		if err != nil {
			return err
		}
		options.Flags = append(options.Flags, flag)
		return nil
	})
	if err != nil {
		return nil, false, false, err
	}
	if hasFlagList && !dec.ExpectSP() {
		return nil, false, false, dec.Err()
	}
	t, err := internal.DecodeDateTime(dec)
	if err != nil {
		return nil, false, false, err
	}
	if !t.IsZero() && !dec.ExpectSP() {
		return nil, false, false, dec.Err()
	}
	options.Time = t

	var dataExt string
	if !dec.Special('~') && dec.Atom(&dataExt) {
		if !strings.EqualFold(dataExt, "UTF8") {
			return nil, false, false, newClientBugError("Unknown APPEND data extension")
		}
		if !dec.ExpectSP() || !dec.ExpectSpecial('(') || !dec.ExpectSpecial('~') {
			return nil, false, false, dec.Err()
		}
		utf8 = true
	}
	lit, nonSync, err = dec.ExpectLiteralReader()
	return lit, nonSync, utf8, err
}
