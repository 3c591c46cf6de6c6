package vulnmatch

import (
	"regexp"
	"strings"
)

// Product ties what a scan detects to the names vulnerability data uses:
// the CPE vendor:product pairs NVD files the product under, and the Debian
// source package that ships it.
type Product struct {
	Name         string
	Aliases      []string // lower-case substrings of the product names service detection reports
	CPEs         []string // vendor:product
	DebianSource string
	SWEdition    string // of the build we meet (nginx: open_source); NA otherwise
	// splitUpdate turns an upstream version into CPE version and update
	// (OpenSSH 9.2p1 is version 9.2, update p1).
	splitUpdate *regexp.Regexp
}

// Products are the products the matcher knows by name.
var Products = []Product{
	{Name: "OpenSSH", Aliases: []string{"openssh"}, CPEs: []string{"openbsd:openssh"}, DebianSource: "openssh", splitUpdate: regexp.MustCompile(`^(\d+(?:\.\d+)*)(p\d+)$`)},
	{Name: "nginx", Aliases: []string{"nginx"}, CPEs: []string{"f5:nginx", "f5:nginx_open_source", "nginx:nginx"}, DebianSource: "nginx", SWEdition: "open_source"},
	{Name: "Apache httpd", Aliases: []string{"apache httpd", "apache/"}, CPEs: []string{"apache:http_server"}, DebianSource: "apache2"},
	{Name: "vsftpd", Aliases: []string{"vsftpd"}, CPEs: []string{"vsftpd_project:vsftpd", "beasts:vsftpd"}, DebianSource: "vsftpd"},
	{Name: "ProFTPD", Aliases: []string{"proftpd"}, CPEs: []string{"proftpd:proftpd", "proftpd_project:proftpd"}, DebianSource: "proftpd-dfsg"},
	{Name: "Redis", Aliases: []string{"redis"}, CPEs: []string{"redis:redis", "redislabs:redis"}, DebianSource: "redis"},
	{Name: "PostgreSQL", Aliases: []string{"postgresql"}, CPEs: []string{"postgresql:postgresql"}, DebianSource: "postgresql-15"},
	{Name: "MariaDB", Aliases: []string{"mariadb"}, CPEs: []string{"mariadb:mariadb"}, DebianSource: "mariadb"},
	{Name: "memcached", Aliases: []string{"memcached"}, CPEs: []string{"memcached:memcached", "memcachedb:memcached"}, DebianSource: "memcached"},
	{Name: "OpenSSL", Aliases: []string{"openssl"}, CPEs: []string{"openssl:openssl"}, DebianSource: "openssl"},
	{Name: "Samba", Aliases: []string{"samba"}, CPEs: []string{"samba:samba"}, DebianSource: "samba"},
	{Name: "Net-SNMP", Aliases: []string{"net-snmp"}, CPEs: []string{"net-snmp:net-snmp"}, DebianSource: "net-snmp"},
	{Name: "Exim", Aliases: []string{"exim"}, CPEs: []string{"exim:exim"}, DebianSource: "exim4"},
	{Name: "Postfix", Aliases: []string{"postfix"}, CPEs: []string{"postfix:postfix"}, DebianSource: "postfix"},
	{Name: "Dovecot", Aliases: []string{"dovecot"}, CPEs: []string{"dovecot:dovecot"}, DebianSource: "dovecot"},
	{Name: "BIND", Aliases: []string{"bind", "isc bind"}, CPEs: []string{"isc:bind"}, DebianSource: "bind9"},
}

// ProductByDebianSource finds a product by its Debian source package.
func ProductByDebianSource(src string) (Product, bool) {
	for _, p := range Products {
		if p.DebianSource == src {
			return p, true
		}
	}
	return Product{}, false
}

// AppCPEs names an installed upstream version under each of the product's
// CPE names. An installed product is concrete: what it does not have (an
// update, an edition) is NA, which NVD's "*" covers and its named editions
// (BIND's supported_preview, nginx plus) do not.
func (p Product) AppCPEs(version string) []CPE {
	v, update, swEdition := strings.ToLower(version), "-", "-"
	if p.SWEdition != "" {
		swEdition = p.SWEdition
	}
	if p.splitUpdate != nil {
		if m := p.splitUpdate.FindStringSubmatch(v); m != nil {
			v, update = m[1], m[2]
		}
	}
	out := make([]CPE, 0, len(p.CPEs))
	for _, vp := range p.CPEs {
		vendor, product, _ := strings.Cut(vp, ":")
		out = append(out, CPE{Part: "a", Vendor: vendor, Product: product, Version: v, Update: update, Edition: "-",
			Language: "-", SWEdition: swEdition, TargetSW: "-", TargetHW: "-", Other: "-"})
	}
	return out
}

// NVDVerdictForProduct is NVDVerdict over every CPE name of the product:
// vulnerable under any name is vulnerable.
func NVDVerdictForProduct(configs []Configuration, p Product, version string, platforms ...CPE) Verdict {
	best := Verdict{State: NotListed}
	for _, app := range p.AppCPEs(version) {
		v := NVDVerdict(configs, app, platforms...)
		switch {
		case v.State == Vulnerable, v.State == NotAssessed:
			return v
		case v.State == NotVulnerable:
			best = v
		}
	}
	return best
}
