#!/usr/bin/env bash
# Makes format1-data.tar.gz: a data directory as a frontdesk release of
# data format 1 (no format marker) leaves it, format1-data.json: what IMAP
# showed of it, and format1-backup.tar.gz: that release's backup of it; for
# TestUpgradeFromFormat1 and TestRestoreFormat1Backup.
#
#   bash e2e/testdata/make-format1-data.sh /path/to/old/frontdesk
#
# Run from the repository root with the binary of that release; needs
# swaks, python3 and sipp. What it does is what the test checks.
set -euo pipefail
bin=$(realpath "$1")
out=$(realpath e2e/testdata)/format1-data.tar.gz
expect=$(realpath e2e/testdata)/format1-data.json
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
data=$work/data
p=${PORT_BASE:-$((20000 + RANDOM % 30000))}
smtp=127.0.0.1:$((p + 25)) sub=127.0.0.1:$((p + 87)) imap=127.0.0.1:$((p + 43)) sip=127.0.0.1:$((p + 60))

# Nothing answers DNS on port 9 or SMTP on port 1: lookups fail at once
# and the acknowledgement to the customer stays queued.
"$bin" serve --data "$data" --hostname mx.example.test --dns 127.0.0.1:9 --outbound-port 1 \
	--smtp $smtp --submission $sub --imap $imap --http 127.0.0.1:0 --sip $sip 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q "frontdesk ready" "$work/log" && break; sleep 0.1; done
grep -q "frontdesk ready" "$work/log" || { cat "$work/log"; exit 1; }

fd() { "$bin" "$@" --data "$data"; }
fd domain add example.test >/dev/null
echo 'alice password 1' | fd user add alice@example.test --password-stdin
echo 'support password 1' | fd user add support@example.test --password-stdin
echo 'agent password 1' | fd user add agent@example.test --password-stdin --role agent
fd support add support@example.test
echo 'agent secret 1' | fd agent add agent@example.test --skills support --sip-password-stdin

for i in 1 2 3 4 5; do
	swaks --server $smtp --from carol@outside.test --to alice@example.test \
		--header "Subject: release mail $i" --header "Message-Id: <r$i@outside.test>" \
		--body "Body of release mail $i." >/dev/null
done
swaks --server $smtp --from bob@customer.test --to support@example.test \
	--header "Subject: Printer on fire" --header "Message-Id: <p1@customer.test>" \
	--body "It smokes since this morning." >/dev/null

# Flags on 1 and 2, message 3 moved to Archive (INBOX keeps UIDs 1, 2, 4, 5).
python3 - "$imap" "$expect" <<'EOF'
import imaplib, json, re, sys
host, port = sys.argv[1].rsplit(":", 1)
m = imaplib.IMAP4(host, int(port))
m.login("alice@example.test", "alice password 1")
m.select("INBOX")
m.uid("STORE", "1", "+FLAGS", r"(\Seen \Flagged)")
m.uid("STORE", "2", "+FLAGS", r"(\Answered $Label1)")
typ, data = m.uid("MOVE", "3", "Archive")
assert typ == "OK", data
# What the test expects to find: UIDVALIDITY, UIDNEXT and every
# message's UID, flags and Message-ID, as IMAP showed them.
want = {}
for box in ("INBOX", "Archive"):
    typ, data = m.status(box, "(UIDVALIDITY UIDNEXT)")
    st = dict(re.findall(rb"(UIDVALIDITY|UIDNEXT) (\d+)", data[0]))
    m.select(box, readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    msgs = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
        flags = sorted(f.decode() for f in re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).split() if f != b"\\Recent")
        mid = item[1].decode().split(":", 1)[1].strip()
        msgs.append({"uid": uid, "flags": flags, "message_id": mid})
    want[box] = {"uidvalidity": int(st[b"UIDVALIDITY"]), "uidnext": int(st[b"UIDNEXT"]), "messages": msgs}
m.logout()
with open(sys.argv[2], "w") as f:
    json.dump(want, f, indent=1)
    f.write("\n")
EOF

# An abandoned call: the caller hangs up in the IVR.
sf=$(realpath telephony/testdata/caller_ivr_hangup.xml)
(cd "$work" && sipp $sip -sf "$sf" -m 1 -i 127.0.0.1 -p $((p + 61)) -mi 127.0.0.1 -mp $((p + 62)) \
	-nostdin -timeout 60s -timeout_error -s 100 -key caller +15550201 >/dev/null)
for _ in $(seq 100); do fd calls list | grep -q 15550201 && break; sleep 0.1; done
for _ in $(seq 100); do fd tickets list | grep -q "Printer on fire" && break; sleep 0.1; done
for _ in $(seq 100); do fd queue list | grep -q customer.test && break; sleep 0.1; done
fd calls list | grep -q 15550201
fd tickets list | grep -q "Printer on fire"
fd queue list | grep -q customer.test

kill -INT $pid
wait $pid || true
# The index is derived and rebuilt on start; sockets are the server's.
rm -rf "$data/index" "$data/frontdesk.sock"
# bbolt files grow in steps; a compacted copy holds only what is used.
find "$data" -name '*.db' | while read -r db; do
	go run go.etcd.io/bbolt/cmd/bbolt@v1.4.3 compact -o "$db.c" "$db" >/dev/null
	mv "$db.c" "$db"
	chmod 600 "$db"
done
tar -C "$work" -czf "$out" data
# And a backup of it taken by the same release, for the restore.
"$bin" backup "$work/backup" --data "$data" >/dev/null
tar -C "$work" -czf "$(dirname "$out")/format1-backup.tar.gz" backup
ls -l "$out" "$(dirname "$out")/format1-backup.tar.gz"
