#!/usr/bin/env python3
"""CONDSTORE and QRESYNC (RFC 7162) over raw sockets, as a syncing client
sees them. The mailbox starts with five messages, UIDs 1-5, delivered into
a fresh INBOX (HIGHESTMODSEQ 1), so their MODSEQs are 2-6. Every answer
below is worked out by hand from that."""
import re
import socket
import sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


class Conn:
    def __init__(self):
        self.s = socket.create_connection((host, port), timeout=10)
        self.f = self.s.makefile("rb")
        self.n = 0
        greeting = self.line()
        assert greeting.startswith("* OK"), greeting
        self.ok("LOGIN %s \"%s\"" % (user, password))

    def line(self):
        ln = self.f.readline().decode()
        assert ln.endswith("\r\n"), repr(ln)
        return ln[:-2]

    def cmd(self, text):
        self.n += 1
        tag = "c%d" % self.n
        self.s.sendall(("%s %s\r\n" % (tag, text)).encode())
        untagged = []
        while True:
            ln = self.line()
            if ln.startswith(tag + " "):
                return untagged, ln[len(tag) + 1:]
            untagged.append(ln)

    def ok(self, text):
        untagged, status = self.cmd(text)
        assert status.startswith("OK"), (text, status, untagged)
        return untagged, status

    def bad(self, text):
        untagged, status = self.cmd(text)
        assert status.startswith("BAD"), (text, status, untagged)
        return status

    def close(self):
        self.ok("LOGOUT")
        self.s.close()


def only(lines, prefix):
    return [ln for ln in lines if ln.startswith(prefix)]


def fetches(lines):
    return [ln for ln in lines if re.match(r"^\* \d+ FETCH ", ln)]


def expect(got, want, what):
    assert got == want, "%s:\n got  %r\n want %r" % (what, got, want)


# --- CONDSTORE -------------------------------------------------------------
a = Conn()
caps, _ = a.ok("CAPABILITY")
capline = only(caps, "* CAPABILITY")[0].split()
assert "CONDSTORE" in capline and "QRESYNC" in capline, capline

resp, status = a.ok("SELECT INBOX (CONDSTORE)")
# The first SELECT claims \Recent for all five (IMAP4rev1, RFC 3501).
expect(only(resp, "* OK [HIGHESTMODSEQ"), ["* OK [HIGHESTMODSEQ 6] Highest mod-sequence"], "SELECT (CONDSTORE)")
uidvalidity = int(re.search(r"\[UIDVALIDITY (\d+)\]", "\n".join(resp)).group(1))

resp, _ = a.ok("FETCH 1:* (MODSEQ)")
expect(fetches(resp), ["* %d FETCH (UID %d MODSEQ (%d))" % (i, i, i + 1) for i in range(1, 6)], "FETCH MODSEQ")

resp, _ = a.ok("STORE 2 +FLAGS (\\Flagged)")
expect(fetches(resp), ["* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ (7))"], "STORE gives the new MODSEQ")

resp, _ = a.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE 6)")
expect(fetches(resp), ["* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ (7))"], "FETCH CHANGEDSINCE")
resp, _ = a.ok("UID FETCH 3:5 (FLAGS) (CHANGEDSINCE 6)")
expect(fetches(resp), [], "FETCH CHANGEDSINCE outside the set")
resp, _ = a.ok("FETCH 2 (FLAGS) (CHANGEDSINCE 7)")
expect(fetches(resp), [], "FETCH CHANGEDSINCE the current MODSEQ")

# Message 2 changed after 6: it is left alone and named in MODIFIED.
resp, status = a.ok("STORE 1:3 (UNCHANGEDSINCE 6) +FLAGS (\\Seen)")
expect(fetches(resp), ["* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) MODSEQ (8))",
                       "* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent) MODSEQ (9))"], "conditional STORE")
assert status.startswith("OK [MODIFIED 2]"), status
resp, status = a.ok("UID STORE 2,4 (UNCHANGEDSINCE 7) +FLAGS.SILENT (\\Seen)")
# .SILENT still reports the new MODSEQ (RFC 7162 §3.1.3).
expect(fetches(resp), ["* 2 FETCH (UID 2 MODSEQ (10))", "* 4 FETCH (UID 4 MODSEQ (11))"], "silent conditional STORE")
expect(status, "OK UID STORE completed", "no MODIFIED when all passed")
_, status = a.ok("UID STORE 5 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
assert status.startswith("OK [MODIFIED 5]"), status

resp, _ = a.ok("SEARCH MODSEQ 9")
expect(only(resp, "* SEARCH"), ["* SEARCH 2 3 4 (MODSEQ 11)"], "SEARCH MODSEQ")
resp, _ = a.ok("UID SEARCH MODSEQ \"/flags/\\\\Seen\" all 10")
expect(only(resp, "* SEARCH"), ["* SEARCH 2 4 (MODSEQ 11)"], "SEARCH MODSEQ with an entry name")
resp, _ = a.ok("SEARCH MODSEQ 100")
expect(only(resp, "* SEARCH"), ["* SEARCH"], "SEARCH MODSEQ above all")
resp, _ = a.ok("SEARCH RETURN (ALL) MODSEQ 10")
assert only(resp, "* ESEARCH")[0].endswith("ALL 2,4 MODSEQ 11"), resp

resp, _ = a.ok("STATUS INBOX (MESSAGES HIGHESTMODSEQ)")
expect(only(resp, "* STATUS"), ["* STATUS INBOX (MESSAGES 5 HIGHESTMODSEQ 11)"], "STATUS HIGHESTMODSEQ")

# A change made in another session reaches this one with its MODSEQ.
b = Conn()
b.ok("SELECT INBOX")
b.ok("UID STORE 5 +FLAGS (\\Answered)")
resp, _ = a.ok("NOOP")
expect(fetches(resp), ["* 5 FETCH (UID 5 FLAGS (\\Answered \\Recent) MODSEQ (12))"], "unsolicited FETCH carries MODSEQ")

# Bad input: clear BAD answers, and the connection carries on.
a.bad("FETCH 1 (FLAGS) (CHANGEDSINCE x)")
a.bad("FETCH 1 (FLAGS) (CHANGEDSINCE 0)")
a.bad("FETCH 1 (FLAGS) (BOGUS 1)")
a.bad("UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)")  # QRESYNC not enabled
a.bad("STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)")
a.bad("STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS (\\Seen)")
a.bad("SEARCH MODSEQ")
a.bad("SEARCH MODSEQ \"/flags/\\\\Seen\" nonsense 1")
a.bad("SELECT INBOX (QRESYNC (%d 1))" % uidvalidity)  # QRESYNC not enabled
a.ok("NOOP")
a.close()

# ENABLE CONDSTORE on its own; EXAMINE is read-only with or without it.
d = Conn()
resp, _ = d.ok("ENABLE CONDSTORE")
expect(only(resp, "* ENABLED"), ["* ENABLED CONDSTORE"], "ENABLE CONDSTORE")
resp, _ = d.ok("STATUS Trash (HIGHESTMODSEQ)")
expect(only(resp, "* STATUS"), ["* STATUS \"Trash\" (HIGHESTMODSEQ 1)"], "STATUS of an untouched mailbox")
resp, _ = d.ok("EXAMINE INBOX")
expect(only(resp, "* OK [HIGHESTMODSEQ"), ["* OK [HIGHESTMODSEQ 12] Highest mod-sequence"], "EXAMINE")
_, status = d.cmd("STORE 1 (UNCHANGEDSINCE 12) +FLAGS (\\Seen)")
assert status.startswith("NO"), status
d.close()

# --- QRESYNC ---------------------------------------------------------------
# The phone syncs at HIGHESTMODSEQ 12 and goes away.
# Meanwhile: 5 flagged (13), 3 deleted (14) and expunged (15), 1 moved to
# Trash (16).
b.ok("STORE 5 +FLAGS (\\Flagged)")
b.ok("STORE 3 +FLAGS (\\Deleted)")
resp, _ = b.ok("EXPUNGE")
expect(only(resp, "* 3 EXPUNGE"), ["* 3 EXPUNGE"], "plain session still gets EXPUNGE")
b.ok("UID MOVE 1 Trash")

c = Conn()
resp, _ = c.ok("ENABLE QRESYNC")
expect(only(resp, "* ENABLED"), ["* ENABLED QRESYNC"], "ENABLE QRESYNC")
resp, _ = c.ok("SELECT INBOX (QRESYNC (%d 12))" % uidvalidity)
expect(only(resp, "* VANISHED"), ["* VANISHED (EARLIER) 1,3"], "VANISHED (EARLIER) after expunges elsewhere")
# Left: UIDs 2, 4, 5 as 1, 2, 3; only 5 changed after 12.
expect(fetches(resp), ["* 3 FETCH (UID 5 FLAGS (\\Answered \\Flagged) MODSEQ (13))"], "changed messages on QRESYNC")
expect(only(resp, "* OK [HIGHESTMODSEQ"), ["* OK [HIGHESTMODSEQ 16] Highest mod-sequence"], "HIGHESTMODSEQ after resync")
expect(only(resp, "* 3 EXISTS"), ["* 3 EXISTS"], "EXISTS after resync")
# The VANISHED and FETCH come after the mailbox data, before the tagged OK.
assert resp.index(only(resp, "* VANISHED")[0]) > resp.index(only(resp, "* OK [HIGHESTMODSEQ")[0]), resp

# known-uids narrow the VANISHED answer.
resp, _ = c.ok("EXAMINE INBOX (QRESYNC (%d 12 2:5))" % uidvalidity)
expect(only(resp, "* VANISHED"), ["* VANISHED (EARLIER) 3"], "VANISHED within known-uids")
# seq-match-data is accepted (the store keeps every tombstone).
resp, _ = c.ok("EXAMINE INBOX (QRESYNC (%d 12 1:5 (1:2 1:2)))" % uidvalidity)
expect(only(resp, "* VANISHED"), ["* VANISHED (EARLIER) 1,3"], "QRESYNC with seq-match-data")
resp, _ = c.ok("EXAMINE INBOX (QRESYNC (%d 12 (1:2 1:2)))" % uidvalidity)
expect(only(resp, "* VANISHED"), ["* VANISHED (EARLIER) 1,3"], "QRESYNC with only seq-match-data")

# A stale UIDVALIDITY: the client must start over, so nothing incremental.
resp, _ = c.ok("SELECT INBOX (QRESYNC (%d 12))" % (uidvalidity - 1))
expect(only(resp, "* VANISHED"), [], "no VANISHED for a stale UIDVALIDITY")
expect(fetches(resp), [], "no FETCH for a stale UIDVALIDITY")
expect(only(resp, "* OK [HIGHESTMODSEQ"), ["* OK [HIGHESTMODSEQ 16] Highest mod-sequence"], "HIGHESTMODSEQ for a full resync")

# Nothing changed since the newest MODSEQ.
resp, _ = c.ok("SELECT INBOX (QRESYNC (%d 16))" % uidvalidity)
expect(only(resp, "* VANISHED") + fetches(resp), [], "resync with nothing new")

# Once QRESYNC is on, expunges are VANISHED, never EXPUNGE: our own...
resp, _ = c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
expect(fetches(resp), ["* 1 FETCH (UID 2 MODSEQ (17))"], "silent STORE with CONDSTORE on")
resp, _ = c.ok("EXPUNGE")
expect(only(resp, "* VANISHED"), ["* VANISHED 2"], "EXPUNGE answers VANISHED")
assert not [ln for ln in resp if ln.endswith(" EXPUNGE")], resp
# ...another session's...
b.ok("UID STORE 4 +FLAGS (\\Deleted)")
b.ok("UID EXPUNGE 4")
resp, _ = c.ok("NOOP")
expect(only(resp, "* VANISHED"), ["* VANISHED 4"], "another session's expunge as VANISHED")
assert not [ln for ln in resp if ln.endswith(" EXPUNGE")], resp
# ...and MOVE's.
b.ok("APPEND INBOX {4+}\r\nhi\r\n")  # UID 6, MODSEQ 21
resp, _ = c.ok("NOOP")
expect(only(resp, "* 2 EXISTS"), ["* 2 EXISTS"], "new message")
resp, _ = c.ok("UID MOVE 6 Trash")
expect(only(resp, "* VANISHED"), ["* VANISHED 6"], "MOVE answers VANISHED")

# UID FETCH (CHANGEDSINCE n VANISHED): all expunged after 12 within the set.
resp, _ = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12 VANISHED)")
expect(only(resp, "* VANISHED"), ["* VANISHED (EARLIER) 1:4,6"], "UID FETCH VANISHED")
expect(fetches(resp), ["* 1 FETCH (UID 5 FLAGS (\\Answered \\Flagged) MODSEQ (13))"], "UID FETCH CHANGEDSINCE")
resp, _ = c.ok("UID FETCH 3:4 (FLAGS) (CHANGEDSINCE 12 VANISHED)")
expect(only(resp, "* VANISHED"), ["* VANISHED (EARLIER) 3:4"], "UID FETCH VANISHED within the set")
c.bad("FETCH 1 (FLAGS) (CHANGEDSINCE 12 VANISHED)")  # VANISHED needs UID FETCH
c.bad("UID FETCH 1 (FLAGS) (VANISHED)")  # and CHANGEDSINCE
c.bad("SELECT INBOX (QRESYNC (0 12))")
c.bad("SELECT INBOX (QRESYNC (%d 0))" % uidvalidity)
c.bad("SELECT INBOX (QRESYNC (%d 12 1:3 (1:2 1:3)))" % uidvalidity)
c.bad("SELECT INBOX (QRESYNC (%d))" % uidvalidity)
c.bad("SELECT INBOX (NOSUCH)")
c.ok("NOOP")
c.close()
b.close()
print("done")
