# SORT, THREAD and ESORT through Python's imaplib over the fixture mailbox
# of sort_test.go; prints one "ok <step>" line per passed step and exits
# non-zero on the first failure.
import imaplib
import sys

host, port, user, password = sys.argv[1:5]

def check(step, got, want):
    if got != want:
        print("FAIL", step, "got", got, "want", want)
        sys.exit(1)
    print("ok", step)

m = imaplib.IMAP4(host, int(port))
m.login(user, password)
typ, data = m.capability()
caps = data[0].split()
check("capabilities", [c in caps for c in (b"SORT", b"ESORT", b"THREAD=REFERENCES", b"THREAD=ORDEREDSUBJECT", b"MULTIAPPEND")], [True] * 5)
m.select("INBOX", readonly=True)

typ, data = m.sort("(DATE)", "UTF-8", "ALL")
check("sort date", (typ, data), ("OK", [b"3 5 1 2 4 6 7 8"]))
typ, data = m.sort("(REVERSE ARRIVAL)", "UTF-8", "ALL")
check("sort reverse arrival", (typ, data), ("OK", [b"6 8 4 1 7 2 5 3"]))
typ, data = m.sort("(FROM SUBJECT)", "UTF-8", "UNSEEN")
check("sort from subject unseen", (typ, data), ("OK", [b"7 3 8 1 4 5"]))
typ, data = m.uid("SORT", "(SIZE)", "UTF-8", "ALL")
check("uid sort size", (typ, data), ("OK", [b"5 3 7 4 6 2 8 9"]))
typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
check("thread references", (typ, data), ("OK", [b"(3 5)(1 (2 8)(4))((6)(7))"]))
typ, data = m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
check("thread orderedsubject", (typ, data), ("OK", [b"(3 5)(1 (2)(4))(6 7)(8)"]))
typ, data = m.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "SUBJECT", "lunch")
check("uid thread subject", (typ, data), ("OK", [b"(4 6)"]))

# ESORT: imaplib has no method for it, but sends any command.
typ, data = m._simple_command("SORT", "RETURN", "(MIN MAX COUNT)", "(SUBJECT)", "UTF-8", "ALL")
typ, data = m._untagged_response(typ, data, "ESEARCH")
check("esort", (typ, [d.split(b") ", 1)[1] for d in data]), ("OK", [b"MIN 8 MAX 7 COUNT 8"]))

typ, data = m.sort("(DATE)", "KOI8-R", "ALL")
check("bad charset refused", (typ, b"[BADCHARSET]" in data[0]), ("NO", True))
m.logout()
print("done")
