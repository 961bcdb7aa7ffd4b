# Checks BINARY and ENVELOPE with Python's imaplib: the message delivered
# is binaryMessage of binary_test.go, then one with a group and a source
# route. Prints one "ok <step>" line per passed step and exits non-zero on
# the first failure.
import imaplib
import sys

host, port, user, password = sys.argv[1:5]

def check(step, cond, detail=""):
    if not cond:
        print("FAIL", step, detail)
        sys.exit(1)
    print("ok", step)

m = imaplib.IMAP4(host, int(port))
typ, _ = m.login(user, password)
check("login", typ == "OK")
typ, data = m.select("INBOX")
check("select", typ == "OK" and data[0] == b"2", data)

typ, data = m.fetch("1", "(BINARY.PEEK[2])")
check("binary literal8", typ == "OK" and data[0][0].endswith(b"BINARY[2] ~{13}")
      and data[0][1] == b"\x00\x01\x02binary\x00end", data)
typ, data = m.fetch("1", "(BINARY.PEEK[2]<3.6>)")
check("binary partial", typ == "OK" and data[0][0].endswith(b"BINARY[2]<3> {6}")
      and data[0][1] == b"binary", data)
typ, data = m.fetch("1", "(BINARY.PEEK[1])")
check("binary text", typ == "OK" and data[0][1] == b"caf\xe9 au lait", data)
typ, data = m.fetch("1", "(BINARY.SIZE[2])")
check("binary size", typ == "OK" and data[0].endswith(b"BINARY.SIZE[2] 13)"), data)
typ, data = m.fetch("1", "(BINARY.PEEK[3])")
check("unknown cte", typ == "NO" and b"[UNKNOWN-CTE]" in data[0], data)

typ, data = m.fetch("2", "(ENVELOPE)")
check("envelope group", typ == "OK" and
      b'((NIL NIL "Team" NIL)(NIL NIL "a" "x.example")(NIL NIL NIL NIL))' in data[0], data)
check("envelope route", b'((NIL "@relay.example" "joe" "example.com"))' in data[0], data)
typ, data = m.search(None, "TO", '"a@x.example"')
check("search group member", typ == "OK" and data[0] == b"2", data)
m.logout()
print("done")
