package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLimitDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "frontdesk.toml")
	os.WriteFile(path, []byte("[imap]\nautologout = \"45m\"\n[smtp]\nmax_connections_per_ip = 5\n"), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP.CommandTimeout.Duration != 5*time.Minute || c.SMTP.DNSBudget.Duration != 30*time.Second ||
		c.SMTP.OnDNSTempError != DNSTempErrorDefer || c.SMTP.MaxConnections != 1000 || c.SMTP.MaxConnectionsPerIP != 5 {
		t.Errorf("smtp = %+v", c.SMTP)
	}
	if c.IMAP.Autologout.Duration != 45*time.Minute || c.IMAP.LoginTimeout.Duration != time.Minute || c.IMAP.MaxConnectionsPerIP != 200 {
		t.Errorf("imap = %+v", c.IMAP)
	}
	if c.HTTP.ReadHeaderTimeout.Duration != 10*time.Second || c.DNSTimeout.Duration != 3*time.Second {
		t.Errorf("http = %+v, dns_timeout = %v", c.HTTP, c.DNSTimeout)
	}
}

func TestLimitErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ body, want string }{
		"policy":   {"[smtp]\non_dns_temperror = \"bounce\"\n", "smtp.on_dns_temperror"},
		"negative": {"[imap]\nmax_connections = -1\n", "imap.max_connections"},
		"duration": {"[smtp]\ncommand_timeout = \"0s\"\n", "must be positive"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(tc.body), 0o600)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}
