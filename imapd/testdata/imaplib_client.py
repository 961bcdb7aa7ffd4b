# Drives the server with Python's imaplib; prints one "ok <step>" line per
# passed step and exits non-zero on the first failure.
import imaplib
import sys

host, port, user, password, body_path = sys.argv[1:6]
want = open(body_path, "rb").read()

def check(step, cond, detail=""):
    if not cond:
        print("FAIL", step, detail)
        sys.exit(1)
    print("ok", step)

m = imaplib.IMAP4(host, int(port))
typ, _ = m.login(user, password)
check("login", typ == "OK")
typ, boxes = m.list()
check("list", typ == "OK" and any(b'\\Sent' in b and b'"Sent"' in b or b'\\Sent' in b for b in boxes), boxes)
typ, data = m.select("INBOX")
check("select", typ == "OK" and data[0] == b"1", data)
typ, data = m.fetch("1", "(BODY.PEEK[])")
check("fetch body", typ == "OK" and data[0][1] == want, data)
typ, data = m.fetch("1", "(FLAGS)")
check("peek kept unseen", typ == "OK" and b"\\Seen" not in data[0], data)
typ, data = m.search(None, "SUBJECT", '"python"')
check("search", typ == "OK" and data[0] == b"1", data)
typ, data = m.store("1", "+FLAGS", "(\\Flagged)")
check("store", typ == "OK" and b"\\Flagged" in data[0], data)
typ, data = m.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nhello\r\n")
check("append", typ == "OK" and b"APPENDUID" in data[0], data)
typ, data = m.uid("SEARCH", None, "FLAGGED")
check("uid search", typ == "OK" and data[0] == b"1", data)
typ, data = m.status("Drafts", "(MESSAGES UIDNEXT)")
check("status", typ == "OK" and b"MESSAGES 1" in data[0], data)
m.close()
m.logout()
print("done")
