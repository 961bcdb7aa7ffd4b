package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "frontdesk.toml")
	os.WriteFile(path, []byte("hostname = \"mail.example.com\"\n[listen]\nsmtp = \":25\"\nimaps = \":993\"\n[queue]\nretry = [\"1s\", \"2m\"]\nmax_age = \"48h\"\n"), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "mail.example.com" || c.Listen.SMTP != ":25" || c.Listen.IMAPS != ":993" {
		t.Errorf("loaded %+v", c)
	}
	if got := Durations(c.Queue.Retry); len(got) != 2 || got[0] != time.Second || got[1] != 2*time.Minute || c.Queue.MaxAge.Hours() != 48 {
		t.Errorf("queue = %+v", c.Queue)
	}
	if c.Listen.IMAP != "127.0.0.1:2143" || c.MaxMessageSize != 50<<20 {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key": "hostnme = \"x\"\n",
		"bad addr":    "[listen]\nsmtp = \"25\"\n",
		"syntax":      "hostname = \n",
		"tls half":    "[tls]\ncert = \"a.pem\"\n",
		"bad retry":   "[queue]\nretry = [\"soon\"]\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load(path); err == nil {
			t.Errorf("%s: Load accepted %q", name, body)
		}
	}
}

// The container's config must load as shipped.
func TestDeployConfig(t *testing.T) {
	c, err := Load("../deploy/frontdesk.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "/data" || c.Listen.SMTP != ":25" || c.Listen.IMAPS != ":993" {
		t.Errorf("deploy config = %+v", c)
	}
}

func TestTelephonyConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.toml")
	os.WriteFile(path, []byte(`
[[telephony.queue]]
name = "support"
max_wait = { vip = "30s", new = "5m" }
[[telephony.queue]]
name = "sales"

[[telephony.hotline]]
number = "200"
[telephony.hotline.menu]
prompts = ["greeting", "menu"]
digit_timeout = "4s"
fallback = { action = "voicemail" }
[telephony.hotline.menu.options]
"1" = { action = "queue", queue = "sales" }
"2" = { action = "submenu", menu = { prompts = ["menu"], options = { "1" = { action = "queue", queue = "support" } } } }
`), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Telephony.Hotlines[0]
	if h.Number != "200" || h.Menu.DigitTimeout.Seconds() != 4 || h.Menu.Options["2"].Menu.Options["1"].Queue != "support" {
		t.Errorf("hotline = %+v", h)
	}
	if c.Telephony.Queues[0].MaxWait["new"].Minutes() != 5 {
		t.Errorf("queues = %+v", c.Telephony.Queues)
	}
	os.WriteFile(path, []byte("[[telephony.hotline]]\nnumber = \"1\"\n[telephony.hotline.menu]\noptions = { \"1\" = { action = \"queue\", queue = \"nope\" } }\n[[telephony.queue]]\nname = \"a\"\n"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown queue in a menu: err = %v", err)
	}
}
