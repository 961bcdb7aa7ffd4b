package imapd

import (
	"runtime/debug"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

var _ imapserver.SessionID = (*session)(nil)

// ID answers ID (RFC 2971) with the server's name and version. What the
// client says is logged once, at debug level: it is the client's claim.
func (s *session) ID(client *imap.IDData) *imap.IDData {
	if client != nil {
		s.log.Debug("imap client id", "name", client.Name, "version", client.Version, "os", client.OS)
	}
	return &imap.IDData{Name: "Frontdesk", Version: buildVersion(), Vendor: "Frontdesk"}
}

// buildVersion is the module version the binary was built from, or the
// VCS revision of a development build.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, kv := range bi.Settings {
		if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
			return "dev-" + kv.Value[:12]
		}
	}
	return "dev"
}
