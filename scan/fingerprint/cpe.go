package fingerprint

import "strings"

// productCPEs maps the product names the rules emit to NVD vendor:product.
var productCPEs = map[string]string{
	"OpenSSH": "openbsd:openssh", "Dropbear sshd": "dropbear_ssh_project:dropbear_ssh",
	"vsftpd": "beasts:vsftpd", "ProFTPD": "proftpd:proftpd", "Pure-FTPd": "pureftpd:pure-ftpd",
	"Exim smtpd": "exim:exim", "Postfix smtpd": "postfix:postfix", "Sendmail": "sendmail:sendmail",
	"Dovecot pop3d": "dovecot:dovecot", "Dovecot imapd": "dovecot:dovecot",
	"nginx": "f5:nginx", "Apache httpd": "apache:http_server", "lighttpd": "lighttpd:lighttpd",
	"Microsoft IIS httpd":   "microsoft:internet_information_services",
	"Redis key-value store": "redis:redis", "Memcached": "memcached:memcached", "NATS Server": "linuxfoundation:nats-server",
	"PostgreSQL DB": "postgresql:postgresql", "MySQL": "oracle:mysql", "MariaDB": "mariadb:mariadb",
	"MongoDB": "mongodb:mongodb", "Elasticsearch": "elastic:elasticsearch", "RabbitMQ": "vmware:rabbitmq",
	"ISC BIND": "isc:bind",
}

// productCPE returns a CPE 2.3 name for a product and version, or "".
func productCPE(product, version string) string {
	vp, ok := productCPEs[product]
	if !ok {
		return ""
	}
	v := "*"
	if version != "" {
		v = cpeEscape(version)
	}
	return "cpe:2.3:a:" + vp + ":" + v + ":*:*:*:*:*:*:*"
}

// cpe22to23 converts Recog's CPE 2.2 URIs (cpe:/a:vendor:product:version).
func cpe22to23(uri string) string {
	if !strings.HasPrefix(uri, "cpe:/") {
		return uri
	}
	parts := strings.Split(strings.TrimPrefix(uri, "cpe:/"), ":")
	out := []string{"cpe", "2.3"}
	for i := 0; i < 11; i++ {
		if i < len(parts) && parts[i] != "" {
			out = append(out, cpeEscape(parts[i]))
		} else {
			out = append(out, "*")
		}
	}
	return strings.Join(out, ":")
}

// cpeEscape quotes the characters CPE 2.3 formatted strings reserve.
func cpeEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
