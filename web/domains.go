package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/store"
)

// addDomain adds a local domain and makes its DKIM keys.
func (s *Server) addDomain(ctx context.Context, name string) error {
	d, err := s.st.AddDomain(ctx, name)
	if err != nil {
		return err
	}
	_, err = s.ensureKeys(d.Name)
	return err
}

// ensureKeys returns the DKIM keys of a domain, making the first pair if
// it has none (a domain added before keys were made, or by an older CLI).
func (s *Server) ensureKeys(domain string) ([]*dkim.Key, error) {
	kr, err := s.keyring()
	if err != nil {
		return nil, err
	}
	if keys := kr.All(domain); len(keys) > 0 {
		return keys, nil
	}
	if _, err := kr.Generate(domain); err != nil && !errors.Is(err, dkim.ErrHasKeys) {
		return nil, err
	}
	return kr.All(domain), nil
}

// params is what dnscheck needs to know about a local domain.
func (s *Server) params(ctx context.Context, domain string) (dnscheck.Params, error) {
	var p dnscheck.Params
	d, err := s.domain(ctx, domain)
	if err != nil {
		return p, err
	}
	keys, err := s.ensureKeys(d.Name)
	if err != nil {
		return p, err
	}
	p.Domain = d.Name
	p.MailHost = s.cfg.Hostname
	p.IPs = s.cfg.IPs
	// ReportAddress and MTASTSID keep dnscheck's defaults, so the console
	// shows the same records as "frontdesk domain records".
	p.Ports.Submission = s.cfg.Ports.Submission
	p.Ports.IMAPS = s.cfg.Ports.IMAPS
	p.Ports.IMAP = s.cfg.Ports.IMAP
	for _, k := range keys {
		p.DKIM = append(p.DKIM, dnscheck.Record{Type: "TXT", Name: k.RecordName(), Value: k.RecordValue(),
			Required: true, Purpose: "DKIM key " + k.Selector + " (" + k.Algorithm + ")"})
	}
	return p, nil
}

// domain finds a local domain by name.
func (s *Server) domain(ctx context.Context, name string) (*store.Domain, error) {
	name = store.NormalizeDomain(name)
	ds, err := s.st.Domains(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		if ds[i].Name == name {
			return &ds[i], nil
		}
	}
	return nil, fmt.Errorf("domain %s: %w", name, store.ErrNotFound)
}

// checkDomain runs the live DNS check of a domain through the one
// resolver, keeps the report for the pages and persists the state.
func (s *Server) checkDomain(ctx context.Context, domain string) (*dnscheck.Report, error) {
	p, err := s.params(ctx, domain)
	if err != nil {
		return nil, err
	}
	res, err := s.resolver()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
	defer cancel()
	rep := dnscheck.Check(cctx, res, p)
	s.mu.Lock()
	s.reports[p.Domain] = rep
	s.mu.Unlock()
	state := store.DomainPending
	if rep.AllRequiredOK {
		state = store.DomainActive
		// The records of a rotated DKIM pair are seen: it may sign now.
		if kr := s.cfg.DKIM; kr != nil && len(kr.Pending(p.Domain)) > 0 {
			if keys, err := kr.Activate(p.Domain); err != nil {
				s.log.Error("dkim: activate rotated keys", "domain", p.Domain, "err", err)
			} else {
				s.log.Info("dkim: signing with rotated keys", "domain", p.Domain, "selectors", keys[0].Selector+","+keys[1].Selector)
			}
		}
	}
	checked := rep.Checked
	if checked.IsZero() {
		checked = time.Now()
	}
	if err := s.st.SetDomainState(ctx, p.Domain, state, checked); err != nil {
		return rep, err
	}
	s.log.Info("dns check", "domain", p.Domain, "state", state)
	return rep, nil
}

func (s *Server) lastReport(domain string) *dnscheck.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reports[domain]
}

// recordRow is one line of the records table.
type recordRow struct {
	Type, Name, Value, Purpose string
	Required                   bool
	State                      string // ok, missing, wrong, conflicting, warning; "unchecked" before any check
	Found                      []string
	Expected                   string
	Detail                     string
}

type domainRow struct {
	Name     string
	State    string
	Checked  time.Time
	CatchAll string
	OK, All  int
}

type domainView struct {
	domainRow
	Records  []recordRow
	Warnings []recordRow
	Zone     string
	Accounts []string
}

func rowOf(rec dnscheck.Record) recordRow {
	return recordRow{Type: rec.Type, Name: rec.Name, Value: rec.Value, Purpose: rec.Purpose, Required: rec.Required,
		State: "unchecked", Expected: rec.Value}
}

func rowOfResult(r dnscheck.Result) recordRow {
	row := rowOf(r.Record)
	row.State = string(r.State)
	row.Found = r.Found
	if r.Expected != "" {
		row.Expected = r.Expected
	}
	row.Detail = r.Detail
	return row
}

// view assembles what the domain page shows: the last report if there is
// one, else the records to publish, unchecked.
func (s *Server) view(ctx context.Context, name string) (*domainView, error) {
	p, err := s.params(ctx, name)
	if err != nil {
		return nil, err
	}
	di, err := s.st.DomainInfo(ctx, p.Domain)
	if err != nil {
		return nil, err
	}
	recs := dnscheck.Records(p)
	v := &domainView{domainRow: domainRow{Name: p.Domain, State: di.State, Checked: di.Checked, CatchAll: di.CatchAll},
		Zone: dnscheck.Zone(p, recs)}
	if rep := s.lastReport(p.Domain); rep != nil {
		for _, r := range rep.Results {
			v.Records = append(v.Records, rowOfResult(r))
		}
		for _, r := range rep.ServerWarnings {
			v.Warnings = append(v.Warnings, rowOfResult(r))
		}
	} else {
		for _, rec := range recs {
			v.Records = append(v.Records, rowOf(rec))
		}
	}
	for _, r := range v.Records {
		v.All++
		if r.State == "ok" {
			v.OK++
		}
	}
	return v, nil
}

func (s *Server) domainRows(ctx context.Context) ([]domainRow, error) {
	ds, err := s.st.Domains(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]domainRow, 0, len(ds))
	for _, d := range ds {
		di, err := s.st.DomainInfo(ctx, d.Name)
		if err != nil {
			return nil, err
		}
		row := domainRow{Name: d.Name, State: di.State, Checked: di.Checked, CatchAll: di.CatchAll}
		if rep := s.lastReport(d.Name); rep != nil {
			for _, r := range rep.Results {
				row.All++
				if string(r.State) == "ok" {
					row.OK++
				}
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (s *Server) domainList(w http.ResponseWriter, r *http.Request) {
	rows, err := s.domainRows(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.render(w, r, http.StatusOK, "domains.html", page{Title: "Domains", Nav: "domains", Data: rows})
}

func (s *Server) domainAdd(w http.ResponseWriter, r *http.Request) {
	name := store.NormalizeDomain(r.PostFormValue("domain"))
	if err := s.addDomain(r.Context(), name); err != nil {
		rows, _ := s.domainRows(r.Context())
		status := http.StatusBadRequest
		if errors.Is(err, store.ErrExists) {
			status = http.StatusConflict
		}
		s.render(w, r, status, "domains.html", page{Title: "Domains", Nav: "domains", Error: err.Error(), Data: rows})
		return
	}
	s.metrics.domainsAdded.Add(1)
	// A first check right away shows what is missing; the background
	// checker repeats it until every record is right.
	if _, err := s.checkDomain(r.Context(), name); err != nil {
		s.log.Warn("web: first dns check", "domain", name, "err", err)
	}
	s.redirect(w, r, "/domains/"+name, "Domain added. Publish the records below, then press Check now.")
}

func (s *Server) domainPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.view(r.Context(), r.PathValue("domain"))
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	as, _ := s.st.Accounts(r.Context())
	for _, a := range as {
		v.Accounts = append(v.Accounts, a.Address)
	}
	s.render(w, r, http.StatusOK, "domain.html", page{Title: v.Name, Nav: "domains", Data: v})
}

func (s *Server) domainCheck(w http.ResponseWriter, r *http.Request) {
	name := store.NormalizeDomain(r.PathValue("domain"))
	rep, err := s.checkDomain(r.Context(), name)
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	msg := "Checked: some records are not right yet."
	if rep.AllRequiredOK {
		msg = "Checked: every required record is right. The domain is active."
	}
	s.redirect(w, r, "/domains/"+name, msg)
}

func (s *Server) domainZone(w http.ResponseWriter, r *http.Request) {
	p, err := s.params(r.Context(), r.PathValue("domain"))
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+p.Domain+`.zone"`)
	fmt.Fprint(w, dnscheck.Zone(p, dnscheck.Records(p)))
}

func (s *Server) catchAll(w http.ResponseWriter, r *http.Request) {
	name := store.NormalizeDomain(r.PathValue("domain"))
	target := strings.TrimSpace(r.PostFormValue("target"))
	if err := s.st.SetCatchAll(r.Context(), name, target); err != nil {
		s.failStore(w, r, err)
		return
	}
	msg := "Catch-all removed."
	if target != "" {
		msg = "Mail to unknown addresses of " + name + " now goes to " + target + "."
	}
	s.redirect(w, r, "/domains/"+name, msg)
}

// mtaSTS serves the MTA-STS policy (RFC 8461 §3.2) to hosts asking
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt for a local DOMAIN.
func (s *Server) mtaSTS(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := splitHostPort(host); err == nil {
		host = h
	}
	domain, ok := strings.CutPrefix(host, "mta-sts.")
	if !ok {
		http.NotFound(w, r)
		return
	}
	p, err := s.params(r.Context(), domain)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, dnscheck.MTASTSPolicy(p))
}

// failStore maps store errors to answers.
func (s *Server) failStore(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrExists):
		s.fail(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrInvalid):
		s.fail(w, r, http.StatusBadRequest, err.Error())
	default:
		s.log.Error("web: request failed", "path", r.URL.Path, "err", err)
		s.fail(w, r, http.StatusInternalServerError, "internal error")
	}
}
