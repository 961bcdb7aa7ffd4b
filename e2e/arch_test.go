package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules holds the architecture of DESIGN.md: store imports
// nothing of ours, and protocol packages never import each other.
func TestImportRules(t *testing.T) {
	protocols := []string{"smtpd", "imapd", "telephony", "web"}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "frontdesk/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, deps := strings.TrimPrefix(fields[0], "frontdesk/"), fields[1:]
		for _, d := range deps {
			if !strings.HasPrefix(d, "frontdesk/") {
				continue
			}
			dep := strings.TrimPrefix(d, "frontdesk/")
			if pkg == "store" {
				t.Errorf("store imports %s; it must import nothing of ours", dep)
			}
			if isProtocol(pkg, protocols) && isProtocol(dep, protocols) && top(pkg) != top(dep) {
				t.Errorf("protocol package %s imports protocol package %s", pkg, dep)
			}
		}
	}
}

func isProtocol(pkg string, protocols []string) bool {
	for _, p := range protocols {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

func top(pkg string) string { return strings.SplitN(pkg, "/", 2)[0] }
