package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProxyConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.toml")
	os.WriteFile(path, []byte(`
[proxy]
trusted_proxies = ["10.0.0.0/8", "192.0.2.10", "2001:db8::/32"]
proxy_protocol = ["smtp", "imap"]
header_timeout = "3s"
xclient_hosts = ["127.0.0.1/32"]
`), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Proxy.Uses("smtp") || !c.Proxy.Uses("imap") || c.Proxy.Uses("http") || c.Proxy.HeaderTimeout.Seconds() != 3 {
		t.Errorf("proxy = %+v", c.Proxy)
	}
	ps, err := ParsePrefixes("x", c.Proxy.TrustedProxies)
	if err != nil || len(ps) != 3 || ps[1].String() != "192.0.2.10/32" {
		t.Errorf("trusted = %v, %v", ps, err)
	}
	if ps, _ := ParsePrefixes("x", []string{"::ffff:10.0.0.0/104"}); len(ps) != 1 || ps[0].String() != "10.0.0.0/8" {
		t.Errorf("mapped prefix = %v", ps)
	}
	if d := Defaults(); len(d.Proxy.ProxyProtocol) != 0 || len(d.Proxy.XClientHosts) != 0 {
		t.Errorf("defaults enable proxying: %+v", d.Proxy)
	}
}

func TestProxyConfigErrors(t *testing.T) {
	for body, want := range map[string]string{
		"[proxy]\ntrusted_proxies = [\"10.0.0.0/33\"]\n":                              `"10.0.0.0/33" is not a network`,
		"[proxy]\ntrusted_proxies = [\"10.1.2.3/8\"]\n":                               "did you mean 10.0.0.0/8",
		"[proxy]\nxclient_hosts = [\"localhost\"]\n":                                  `proxy.xclient_hosts: "localhost" is not a network`,
		"[proxy]\ntrusted_proxies = [\"10.0.0.0/8\"]\nproxy_protocol = [\"sip\"]\n":   `"sip" is not a listener`,
		"[proxy]\ntrusted_proxies = [\"10.0.0.0/8\"]\nproxy_protocol = [\"imaps\"]\n": `listener "imaps" is not enabled`,
		"[proxy]\nproxy_protocol = [\"smtp\"]\n":                                      "needs proxy.trusted_proxies",
		"[proxy]\ntrusted_proxies = [\"10.0.0.0/8\"]\nheader_timeout = \"0s\"\n":      "must be positive",
		"[proxy]\ntrusted_proxies = [\"10.0.0.0/8\"]\nproxy_protocol = true\n":        "proxy_protocol",
	} {
		path := filepath.Join(t.TempDir(), "f.toml")
		os.WriteFile(path, []byte(body), 0o600)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
}
