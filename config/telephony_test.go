package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTelephonyTrunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.toml")
	os.WriteFile(path, []byte(`
[telephony.trunk]
proxy = "sip.itsp.example"
password = "s3cret"
caller_id = "+15550100"

[telephony.callbacks]
max_attempts = 5
retry_interval = "10m"
`), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := c.Telephony.Trunk
	if tr == nil || tr.Proxy != "sip.itsp.example:5060" || tr.Username != "+15550100" || tr.Domain != "sip.itsp.example" ||
		tr.Password != "s3cret" || tr.RingTimeout.Duration != 30*time.Second {
		t.Fatalf("trunk defaults: %+v", tr)
	}
	if cb := c.Telephony.Callbacks; cb.MaxAttempts != 5 || cb.RetryInterval.Duration != 10*time.Minute {
		t.Fatalf("callbacks: %+v", cb)
	}

	// No table: no trunk.
	os.WriteFile(path, []byte("[telephony]\nrealm = \"x\"\n"), 0o600)
	if c, err := Load(path); err != nil || c.Telephony.Trunk != nil {
		t.Fatalf("without trunk: %+v %v", c.Telephony.Trunk, err)
	}

	for name, body := range map[string]string{
		"no proxy":     "[telephony.trunk]\ncaller_id = \"1\"\n",
		"bad port":     "[telephony.trunk]\nproxy = \"h:99999\"\ncaller_id = \"1\"\n",
		"no caller id": "[telephony.trunk]\nproxy = \"h:5060\"\n",
		"bad caller":   "[telephony.trunk]\nproxy = \"h:5060\"\ncaller_id = \"1>\"\n",
		"unknown key":  "[telephony.trunk]\nproxy = \"h:5060\"\ncaller_id = \"1\"\nregistrar = \"x\"\n",
		"attempts":     "[telephony.callbacks]\nmax_attempts = 99\n",
	} {
		os.WriteFile(path, []byte(body), 0o600)
		_, err := Load(path)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if name != "unknown key" && !strings.Contains(err.Error(), "telephony.") {
			t.Errorf("%s: error %q does not name the section", name, err)
		}
	}
}
