package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frontdesk/store"
)

// A backup through the control socket is not cut off by the time limit of
// admin commands: a large one takes longer than any fixed bound.
func TestBackupOverControlSocketHasNoTimeLimit(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.AddDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := st.AddAccount(ctx, "alice@example.test", "password123", store.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := st.Deliver(ctx, []byte("Subject: hi\r\n\r\nhello\r\n"), time.Time{}, store.Delivery{Account: a.ID, Mailbox: "INBOX"}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &services{dataDir: data}
	defer svc.close()
	ctl, err := listenControl(data, st, svc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()

	old := controlTimeout
	controlTimeout = time.Millisecond // far less than the backup takes
	t.Cleanup(func() { controlTimeout = old })
	backup := filepath.Join(t.TempDir(), "b")
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"backup", backup, "--data", data}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("backup through the control socket: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "written to "+backup) {
		t.Errorf("backup printed:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(backup, manifestName)); err != nil {
		t.Error(err)
	}
}
