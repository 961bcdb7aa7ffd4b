package web

import (
	"encoding/json"
	"net/http"
	"time"

	"frontdesk/dnscheck"
	"frontdesk/store"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// apiDomain is a domain in the JSON API.
type apiDomain struct {
	Name     string    `json:"name"`
	State    string    `json:"state"`
	Checked  time.Time `json:"checked,omitzero"`
	CatchAll string    `json:"catch_all,omitempty"`
}

// apiRecord is one record and, once checked, its verdict.
type apiRecord struct {
	Type     string   `json:"type"`
	Name     string   `json:"name"`
	Value    string   `json:"value"`
	Required bool     `json:"required"`
	Purpose  string   `json:"purpose"`
	State    string   `json:"state"`
	Found    []string `json:"found,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

type apiReport struct {
	apiDomain
	AllRequiredOK  bool        `json:"all_required_ok"`
	Records        []apiRecord `json:"records"`
	ServerWarnings []apiRecord `json:"server_warnings,omitempty"`
}

func apiRecords(rows []recordRow) []apiRecord {
	out := make([]apiRecord, 0, len(rows))
	for _, r := range rows {
		out = append(out, apiRecord{Type: r.Type, Name: r.Name, Value: r.Value, Required: r.Required,
			Purpose: r.Purpose, State: r.State, Found: r.Found, Detail: r.Detail})
	}
	return out
}

func (s *Server) apiDomains(w http.ResponseWriter, r *http.Request) {
	rows, err := s.domainRows(r.Context())
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	out := make([]apiDomain, 0, len(rows))
	for _, d := range rows {
		out = append(out, apiDomain{Name: d.Name, State: d.State, Checked: d.Checked, CatchAll: d.CatchAll})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiDomain(w http.ResponseWriter, r *http.Request) {
	v, err := s.view(r.Context(), r.PathValue("domain"))
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reportOf(v, nil))
}

// apiDomainCheck runs the DNS check now and answers the report.
func (s *Server) apiDomainCheck(w http.ResponseWriter, r *http.Request) {
	rep, err := s.checkDomain(r.Context(), r.PathValue("domain"))
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	v, err := s.view(r.Context(), rep.Domain)
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reportOf(v, rep))
}

func reportOf(v *domainView, rep *dnscheck.Report) apiReport {
	out := apiReport{apiDomain: apiDomain{Name: v.Name, State: v.State, Checked: v.Checked, CatchAll: v.CatchAll},
		AllRequiredOK: v.State == store.DomainActive, Records: apiRecords(v.Records), ServerWarnings: apiRecords(v.Warnings)}
	if rep != nil {
		out.AllRequiredOK = rep.AllRequiredOK
	}
	return out
}

type apiUser struct {
	Address string     `json:"address"`
	Role    store.Role `json:"role"`
	Created time.Time  `json:"created"`
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) {
	as, err := s.st.Accounts(r.Context())
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	out := make([]apiUser, 0, len(as))
	for _, a := range as {
		out = append(out, apiUser{Address: a.Address, Role: a.Role, Created: a.Created})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	writeJSON(w, http.StatusOK, map[string]any{"address": v.acct.Address, "role": v.acct.Role, "csrf": v.sess.CSRF})
}
