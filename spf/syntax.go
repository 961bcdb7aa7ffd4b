package spf

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
)

// CheckSyntax reports the first syntax error of an SPF record against the
// grammar of RFC 7208 §12 (and §4.6.1, §6, §7.1), or nil. The library we
// evaluate with stops at the first match and so never sees errors after it;
// §4.6 requires permerror for "any syntax errors anywhere in the record".
func CheckSyntax(record string) error {
	if !isSPFRecord(record) {
		return errors.New(`record does not start with "v=spf1"`)
	}
	var redirects, exps int
	for _, term := range strings.Split(record[len("v=spf1"):], " ") {
		if term == "" {
			continue // terms = *( 1*SP ( directive / modifier ) ), record ends with *SP
		}
		if err := checkTerm(term, &redirects, &exps); err != nil {
			return fmt.Errorf("term %q: %w", term, err)
		}
	}
	// §6: redirect and exp MUST NOT appear more than once.
	if redirects > 1 {
		return errors.New("more than one redirect modifier")
	}
	if exps > 1 {
		return errors.New("more than one exp modifier")
	}
	return nil
}

// modifierName matches name "=" of RFC 7208 §6 / §12:
// name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
var modifierName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*=`)

func checkTerm(term string, redirects, exps *int) error {
	if m := modifierName.FindString(term); m != "" {
		name, value := strings.ToLower(m[:len(m)-1]), term[len(m):]
		switch name {
		case "redirect":
			*redirects++
			return checkDomainSpec(value, false)
		case "exp":
			*exps++
			return checkDomainSpec(value, false)
		default:
			// unknown-modifier = name "=" macro-string: ignored, but must
			// parse (§6).
			_, err := macroTokens(value, true)
			return err
		}
	}
	// directive = [ qualifier ] mechanism (§4.6.2)
	if strings.ContainsRune("+-?~", rune(term[0])) {
		term = term[1:]
	}
	name, arg := term, ""
	if i := strings.IndexAny(term, ":/"); i >= 0 {
		name, arg = term[:i], term[i:]
	}
	switch strings.ToLower(name) {
	case "all": // §5.1
		if arg != "" {
			return errors.New("all takes no argument")
		}
		return nil
	case "include", "exists": // §5.2, §5.7: name ":" domain-spec
		if !strings.HasPrefix(arg, ":") {
			return errors.New("missing domain")
		}
		return checkDomainSpec(arg[1:], false)
	case "a", "mx": // §5.3, §5.4: [ ":" domain-spec ] [ dual-cidr-length ]
		rest, err := stripDualCIDR(arg)
		if err != nil {
			return err
		}
		if rest == "" {
			return nil
		}
		if !strings.HasPrefix(rest, ":") {
			return errors.New("malformed argument")
		}
		return checkDomainSpec(rest[1:], false)
	case "ptr": // §5.5: [ ":" domain-spec ]
		if arg == "" {
			return nil
		}
		if !strings.HasPrefix(arg, ":") {
			return errors.New("malformed argument")
		}
		return checkDomainSpec(arg[1:], false)
	case "ip4", "ip6": // §5.6
		return checkIPNetwork(strings.ToLower(name), arg)
	}
	return errors.New("unknown mechanism")
}

var (
	dualCIDR = regexp.MustCompile(`(/([0-9]+))?(//([0-9]+))?$`)
	cidrLen  = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
)

// stripDualCIDR removes a trailing dual-cidr-length (§5.6) from the
// argument of a or mx and checks its ranges.
func stripDualCIDR(arg string) (string, error) {
	m := dualCIDR.FindStringSubmatchIndex(arg)
	if m == nil || m[0] == m[1] {
		if strings.HasSuffix(arg, "/") {
			return "", errors.New("empty CIDR length")
		}
		return arg, nil
	}
	if m[4] >= 0 {
		if err := checkCIDRLen(arg[m[4]:m[5]], 32); err != nil {
			return "", err
		}
	}
	if m[8] >= 0 {
		if err := checkCIDRLen(arg[m[8]:m[9]], 128); err != nil {
			return "", err
		}
	}
	return arg[:m[0]], nil
}

func checkCIDRLen(s string, max int) error {
	n := 0
	fmt.Sscan(s, &n)
	if !cidrLen.MatchString(s) || len(s) > 3 || n > max {
		return fmt.Errorf("invalid CIDR length /%s", s)
	}
	return nil
}

// ip4-network = qnum "." qnum "." qnum "." qnum, no leading zeros (§12).
var ip4Network = regexp.MustCompile(`^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$`)

func checkIPNetwork(mech, arg string) error {
	if !strings.HasPrefix(arg, ":") {
		return errors.New("missing network")
	}
	network, length, hasLen := strings.Cut(arg[1:], "/")
	max := 32
	if mech == "ip4" {
		if !ip4Network.MatchString(network) {
			return fmt.Errorf("invalid IPv4 network %q", network)
		}
	} else {
		max = 128
		ip := net.ParseIP(network)
		if ip == nil || !strings.Contains(network, ":") {
			return fmt.Errorf("invalid IPv6 network %q", network)
		}
	}
	if hasLen {
		return checkCIDRLen(length, max)
	}
	return nil
}

// toplabel = ( *alphanum ALPHA *alphanum ) /
// ( 1*alphanum "-" *( alphanum / "-" ) alphanum ): not all digits (§7.1).
var (
	toplabel  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	allDigits = regexp.MustCompile(`^[0-9]+$`)
)

// checkDomainSpec checks domain-spec = macro-string domain-end, with
// domain-end = ( "." toplabel [ "." ] ) / macro-expand (§7.1). The macro
// letters c, r and t are allowed only in explanation text.
func checkDomainSpec(s string, expText bool) error {
	if s == "" {
		return errors.New("empty domain-spec")
	}
	toks, err := macroTokens(s, expText)
	if err != nil {
		return err
	}
	last := toks[len(toks)-1]
	if last.macro {
		return nil
	}
	lit := strings.TrimSuffix(last.text, ".")
	i := strings.LastIndexByte(lit, '.')
	if i < 0 {
		if len(toks) > 1 && lit == "" {
			return nil // "%{d}." ends in a macro-expand and a dot
		}
		return errors.New("domain-spec does not end in a top label")
	}
	tl := lit[i+1:]
	if !toplabel.MatchString(tl) || allDigits.MatchString(tl) {
		return fmt.Errorf("invalid top label %q", tl)
	}
	return nil
}

type macroToken struct {
	text  string
	macro bool
}

// macroTokens splits a macro-string (§7.1) into literals and
// macro-expands, or reports why it is not one.
func macroTokens(s string, allowCRT bool) ([]macroToken, error) {
	var toks []macroToken
	lit := strings.Builder{}
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, macroToken{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			// macro-literal = %x21-24 / %x26-7E
			if c < 0x21 || c > 0x7e {
				return nil, fmt.Errorf("invalid character %q", c)
			}
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return nil, errors.New("macro: lone %")
		}
		switch s[i+1] {
		case '%', '_', '-':
			flush()
			toks = append(toks, macroToken{text: s[i : i+2], macro: true})
			i++
			continue
		case '{':
		default:
			return nil, fmt.Errorf("macro: invalid %%%c", s[i+1])
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, errors.New("macro: unterminated")
		}
		body := s[i+2 : i+end]
		if err := checkMacroBody(body, allowCRT); err != nil {
			return nil, err
		}
		flush()
		toks = append(toks, macroToken{text: s[i : i+end+1], macro: true})
		i += end
	}
	flush()
	if len(toks) == 0 {
		toks = append(toks, macroToken{})
	}
	return toks, nil
}

// macroBody: macro-letter transformers *delimiter (§7.1), with
// transformers = *DIGIT [ "r" ].
var macroBody = regexp.MustCompile(`^([slodiphcrtvSLODIPHCRTV])([0-9]*)([rR]?)([-.+,/_=]*)$`)

func checkMacroBody(body string, allowCRT bool) error {
	m := macroBody.FindStringSubmatch(body)
	if m == nil {
		return fmt.Errorf("macro: invalid %%{%s}", body)
	}
	if !allowCRT && strings.ContainsAny(m[1], "crtCRT") {
		return fmt.Errorf("macro: %%{%s} is allowed only in explanations", m[1])
	}
	if m[2] != "" && strings.Trim(m[2], "0") == "" {
		return fmt.Errorf("macro: zero digit transformer in %%{%s}", body)
	}
	return nil
}
