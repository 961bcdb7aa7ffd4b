# Checks RFC 3501 behaviour with Python's imaplib, a client we did not
# write: \Recent across two sessions, ID, an unknown command before login,
# CLOSE after EXAMINE, MOVE into the selected mailbox, subscriptions, and
# a new keyword announced with FLAGS. The server has two messages in
# INBOX, the second one \Deleted. Prints "ok <step>" per step and "done".
import imaplib
import sys

host, port, user, password = sys.argv[1:5]
# imaplib knows neither command: tell it in which states they are allowed.
imaplib.Commands["ID"] = ("NONAUTH", "AUTH", "SELECTED")
imaplib.Commands["MOVE"] = ("SELECTED",)

def check(step, cond, detail=""):
    if not cond:
        print("FAIL", step, detail)
        sys.exit(1)
    print("ok", step)

a = imaplib.IMAP4(host, int(port))
check("ID advertised before login", "ID" in a.capabilities, a.capabilities)
typ, data = a._simple_command("ID", "NIL")
idresp = a.response("ID")[1]
check("ID before login", typ == "OK" and b'"name" "Frontdesk"' in idresp[0], idresp)
try:
    a.xatom("XFROBNICATE")
    check("unknown command is BAD", False)
except imaplib.IMAP4.error as e:
    check("unknown command is BAD", "XFROBNICATE" in str(e) or "Unknown" in str(e), str(e))
typ, _ = a.login(user, password)
check("login after an unknown command", typ == "OK")
typ, data = a._simple_command("ID", '("name" "imaplib")')
check("ID after login", typ == "OK" and b"Frontdesk" in a.response("ID")[1][0])

# EXAMINE shows \Recent without claiming it; CLOSE then expunges nothing.
typ, data = a.select("INBOX", readonly=True)
check("EXAMINE recent", typ == "OK" and a.response("RECENT")[1] == [b"2"], a.untagged_responses)
typ, _ = a.close()
check("CLOSE after EXAMINE", typ == "OK")
typ, data = a.status("INBOX", "(MESSAGES RECENT)")
check("nothing expunged, still recent", typ == "OK" and b"MESSAGES 2 RECENT 2" in data[0], data)

typ, data = a.select("INBOX")
check("SELECT claims", typ == "OK" and a.response("RECENT")[1] == [b"2"], data)
typ, data = a.search(None, "RECENT")
check("SEARCH RECENT", typ == "OK" and data[0] == b"1 2", data)
typ, data = a.fetch("1", "(FLAGS)")
check("FETCH shows \\Recent", typ == "OK" and b"\\Recent" in data[0], data)

b = imaplib.IMAP4(host, int(port))
b.login(user, password)
typ, data = b.select("INBOX")
check("second session sees none recent", typ == "OK" and b.response("RECENT")[1] == [b"0"], data)
typ, data = b.search(None, "OLD")
check("SEARCH OLD in the second session", typ == "OK" and data[0] == b"1 2", data)

# New mail through the second session is recent to whoever hears first.
typ, data = b.append("INBOX", None, None, b"Subject: three\r\n\r\n3\r\n")
check("APPEND", typ == "OK", data)
typ, data = b.noop()
check("appending session hears first", b.response("RECENT")[1] == [b"1"], b.untagged_responses)
typ, data = a.noop()
exists, recent = a.response("EXISTS")[1], a.response("RECENT")[1]
check("other session: EXISTS, not recent", exists[-1] == b"3" and recent[-1] == b"2", (exists, recent))

# A keyword new to the mailbox comes with FLAGS before the FETCH.
typ, data = a.store("1", "+FLAGS", "(Project)")
flags = a.response("FLAGS")[1]
check("STORE of a new keyword sends FLAGS", typ == "OK" and flags and b"Project" in flags[-1], (data, flags))
typ, data = b.noop()
flags = b.response("FLAGS")[1]
check("other session gets FLAGS", flags and b"Project" in flags[-1], b.untagged_responses)

# MOVE into the selected mailbox gives a new UID.
typ, data = a.uid("MOVE", "1", "INBOX")
copyuid = a.response("COPYUID")[1]
check("MOVE into the selected mailbox", typ == "OK" and copyuid and copyuid[0].split()[1:] == [b"1", b"4"], (data, copyuid))
typ, data = a.uid("SEARCH", None, "ALL")
check("UIDs after MOVE", typ == "OK" and data[0] == b"2 3 4", data)

# Subscriptions are their own list.
typ, _ = a.create("Team/Reports")
check("CREATE", typ == "OK")
typ, data = a.lsub('""', "Team*")
check("CREATE does not subscribe", typ == "OK" and data == [None], data)
typ, _ = a.subscribe("Team/Reports")
typ, data = a.lsub('""', "%")
check("LSUB parent is \\Noselect", typ == "OK" and any(b"\\Noselect" in d and b"Team" in d for d in data if d), data)
typ, _ = a.delete("Team/Reports")
typ, data = a.list('""', "Team/*")
check("deleted mailbox gone from LIST", typ == "OK" and data == [None], data)
typ, data = a._simple_command("LIST", "(SUBSCRIBED)", '""', "Team/*")
lst = a.response("LIST")[1]
check("DELETE keeps the subscription", typ == "OK" and lst and b"\\NonExistent" in lst[0], lst)

a.logout()
b.logout()
print("done")
