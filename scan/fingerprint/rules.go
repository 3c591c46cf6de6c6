package fingerprint

import (
	"bytes"
	"encoding/binary"
	"regexp"
	"strings"

	"github.com/vigilscan/vigil/scan"
)

// A bannerRule recognizes a service from what it says first.
type bannerRule struct {
	name  string
	match func(b []byte) *scan.Service
}

// reRule builds a banner rule from a regular expression; product, version
// and extra come from the named groups p, v and x when present.
func reRule(name, pattern, product string) bannerRule {
	re := regexp.MustCompile(pattern)
	return bannerRule{name: name, match: func(b []byte) *scan.Service {
		m := re.FindSubmatch(b)
		if m == nil {
			return nil
		}
		s := &scan.Service{Name: name, Product: product}
		for i, g := range re.SubexpNames() {
			v := strings.TrimSpace(string(m[i]))
			switch g {
			case "p":
				if v != "" {
					s.Product = v
				}
			case "v":
				s.Version = v
			case "x":
				s.ExtraInfo = v
			}
		}
		return s
	}}
}

// bannerRules are tried in order on the first bytes a server sends.
var bannerRules = []bannerRule{
	reRule("ssh", `^SSH-(?P<x>[\d.]+)-(?P<p>OpenSSH)_(?P<v>[\w.]+)`, "OpenSSH"),
	reRule("ssh", `^SSH-(?P<x>[\d.]+)-dropbear_(?P<v>[\w.]+)`, "Dropbear sshd"),
	reRule("ssh", `^SSH-(?P<x>[\d.]+)-(?P<p>[^\s\r\n]+)`, ""),
	reRule("ftp", `^220[ -].*\(vsFTPd (?P<v>[\d.]+)\)`, "vsftpd"),
	reRule("ftp", `^500 OOPS: vsftpd`, "vsftpd"),
	reRule("ftp", `^220[ -].*ProFTPD (?P<v>[\d.]+\w*)`, "ProFTPD"),
	reRule("ftp", `^220[ -].*Pure-FTPd`, "Pure-FTPd"),
	reRule("ftp", `^220[ -].*FileZilla Server(?: version)? (?P<v>[\d.]+\w*)`, "FileZilla ftpd"),
	reRule("ftp", `^220[ -].*\bFTP\b`, ""),
	reRule("smtp", `^220[ -]\S+ ESMTP Exim (?P<v>[\d.]+)`, "Exim smtpd"),
	reRule("smtp", `^220[ -]\S+ ESMTP Postfix`, "Postfix smtpd"),
	reRule("smtp", `^220[ -]\S+ ESMTP Sendmail (?P<v>[\w./]+)`, "Sendmail"),
	reRule("smtp", `^220[ -]\S+ Microsoft ESMTP MAIL Service`, "Microsoft ESMTP"),
	reRule("smtp", `^220[ -].*\b(E?SMTP|[Mm]ail)\b`, ""),
	reRule("pop3", `^\+OK Dovecot`, "Dovecot pop3d"),
	reRule("pop3", `^\+OK `, ""),
	reRule("imap", `^\* OK .*Dovecot`, "Dovecot imapd"),
	reRule("imap", `^\* OK .*Cyrus IMAP.*?v?(?P<v>\d[\d.]+)?`, "Cyrus imapd"),
	reRule("imap", `^\* OK .*Courier-IMAP`, "Courier Imapd"),
	reRule("imap", `^\* (OK|PREAUTH) `, ""),
	reRule("vnc", `^RFB (?P<x>\d{3}\.\d{3})\n`, "VNC"),
	{name: "telnet", match: func(b []byte) *scan.Service {
		if len(b) >= 3 && b[0] == 0xff && b[1] >= 0xfb && b[1] <= 0xfe {
			return &scan.Service{Name: "telnet", ExtraInfo: "IAC negotiation"}
		}
		return nil
	}},
	{name: "mysql", match: matchMySQLGreeting},
	reRule("redis", `^-(NOAUTH|ERR).*`, "Redis key-value store"),
	reRule("mqtt", `^\x20\x02\x00[\x00-\x05]`, ""),
	// NATS greets every client with its INFO object.
	reRule("nats", `^INFO \{.*"version":"(?P<v>[\w.-]+)"`, "NATS Server"),
}

// matchMySQLGreeting reads a MySQL/MariaDB handshake packet (protocol 10).
func matchMySQLGreeting(b []byte) *scan.Service {
	// A packet: 3-byte little-endian length, sequence id 0, then the payload.
	if len(b) < 6 || b[3] != 0 {
		return nil
	}
	if n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16; n < 2 || n > 1<<16 {
		return nil
	}
	switch b[4] {
	case 10: // protocol version 10: server version string, NUL-terminated
		end := bytes.IndexByte(b[5:], 0)
		if end < 1 || !isPrintable(b[5:5+end]) {
			return nil
		}
		ver := string(b[5 : 5+end])
		s := &scan.Service{Name: "mysql", Product: "MySQL", Version: ver}
		if i := strings.Index(ver, "-MariaDB"); i >= 0 {
			// MariaDB 10+ prefixes "5.5.5-" for the sake of old clients.
			s.Product, s.Version, s.ExtraInfo = "MariaDB", strings.TrimPrefix(ver[:i], "5.5.5-"), ver
		}
		return s
	case 0xff: // an error packet, e.g. "Host '...' is not allowed to connect to this MariaDB server"
		if bytes.Contains(b, []byte("MySQL")) || bytes.Contains(b, []byte("MariaDB")) || bytes.Contains(b, []byte("is not allowed to connect")) {
			return &scan.Service{Name: "mysql", ExtraInfo: "refuses this client"}
		}
	}
	return nil
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// A probe is a request for services that wait for the client to speak.
type probe struct {
	name    string
	payload func(host string) []byte
	ports   []int // where to try it first
	match   func(resp []byte) *scan.Service
}

var httpStatusRE = regexp.MustCompile(`^HTTP/[\d.]+ \d{3}`)
var serverHeaderRE = regexp.MustCompile(`(?im)^Server:[ \t]*([^\r\n]+)`)

func matchHTTP(resp []byte) *scan.Service {
	if !httpStatusRE.Match(resp) {
		return nil
	}
	s := &scan.Service{Name: "http"}
	if m := serverHeaderRE.FindSubmatch(resp); m != nil {
		server := strings.TrimSpace(string(m[1]))
		s.ExtraInfo = server
		product, version, _ := strings.Cut(strings.Fields(server)[0], "/")
		switch strings.ToLower(product) {
		case "nginx":
			s.Product = "nginx"
		case "apache":
			s.Product = "Apache httpd"
		case "microsoft-iis":
			s.Product = "Microsoft IIS httpd"
		case "lighttpd":
			s.Product = "lighttpd"
		case "caddy":
			s.Product = "Caddy httpd"
		default:
			s.Product = product
		}
		s.Version = version
	}
	if bytes.Contains(resp, []byte(`"You Know, for Search"`)) {
		s.Name, s.Product = "elasticsearch", "Elasticsearch"
		if m := regexp.MustCompile(`"number"\s*:\s*"([^"]+)"`).FindSubmatch(resp); m != nil {
			s.Version = string(m[1])
		}
	}
	return s
}

var redisVersionRE = regexp.MustCompile(`redis_version:([\w.]+)`)

func matchRedis(resp []byte) *scan.Service {
	if !bytes.HasPrefix(resp, []byte("+PONG")) && !bytes.HasPrefix(resp, []byte("-NOAUTH")) && !bytes.HasPrefix(resp, []byte("-DENIED")) {
		return nil
	}
	s := &scan.Service{Name: "redis", Product: "Redis key-value store"}
	if m := redisVersionRE.FindSubmatch(resp); m != nil {
		s.Version = string(m[1])
	}
	return s
}

func matchMemcached(resp []byte) *scan.Service {
	if v, ok := bytes.CutPrefix(resp, []byte("VERSION ")); ok {
		return &scan.Service{Name: "memcached", Product: "Memcached", Version: strings.TrimSpace(string(v))}
	}
	// memcached 1.6 with ASCII authentication (-Y) answers any command
	// before authentication this way.
	if bytes.HasPrefix(resp, []byte("CLIENT_ERROR unauthenticated")) {
		return &scan.Service{Name: "memcached", Product: "Memcached", ExtraInfo: "authentication required"}
	}
	return nil
}

// postgresSSLRequest asks a PostgreSQL server whether it speaks TLS; it
// answers a single 'S' or 'N', which nothing else does.
var postgresSSLRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

func matchPostgres(resp []byte) *scan.Service {
	if len(resp) == 1 && (resp[0] == 'S' || resp[0] == 'N') {
		return &scan.Service{Name: "postgresql", Product: "PostgreSQL DB", ExtraInfo: map[byte]string{'S': "TLS supported", 'N': "no TLS"}[resp[0]]}
	}
	return nil
}

// mongoIsMaster is an OP_QUERY {isMaster: 1} on admin.$cmd, which every
// MongoDB version answers before authentication.
func mongoIsMaster(string) []byte {
	doc := []byte{0x13, 0, 0, 0, 0x10, 'i', 's', 'M', 'a', 's', 't', 'e', 'r', 0, 1, 0, 0, 0, 0}
	body := append(append([]byte{0, 0, 0, 0}, []byte("admin.$cmd\x00")...), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)
	body = append(body, doc...)
	hdr := make([]byte, 16)
	binary.LittleEndian.PutUint32(hdr[0:], uint32(16+len(body)))
	binary.LittleEndian.PutUint32(hdr[4:], 0x5647)
	binary.LittleEndian.PutUint32(hdr[12:], 2004) // OP_QUERY
	return append(hdr, body...)
}

func matchMongo(resp []byte) *scan.Service {
	if len(resp) < 36 || binary.LittleEndian.Uint32(resp[8:]) != 0x5647 {
		return nil
	}
	if !bytes.Contains(resp, []byte("ismaster")) && !bytes.Contains(resp, []byte("isWritablePrimary")) {
		return nil
	}
	return &scan.Service{Name: "mongodb", Product: "MongoDB"}
}

// ldapAnonymousBind is a BER LDAPv3 anonymous simple bind.
var ldapAnonymousBind = []byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00}

func matchLDAP(resp []byte) *scan.Service {
	// A bindResponse: SEQUENCE { messageID 1, [APPLICATION 1] ... }
	if len(resp) >= 7 && resp[0] == 0x30 && bytes.Contains(resp[:min(len(resp), 12)], []byte{0x02, 0x01, 0x01, 0x61}) {
		return &scan.Service{Name: "ldap"}
	}
	return nil
}

// smb2Negotiate is an SMB2 NEGOTIATE request offering dialects 2.0.2-3.1.1,
// framed for direct TCP (port 445) or NetBIOS session service (139).
func smb2Negotiate(string) []byte {
	dialects := []uint16{0x0202, 0x0210, 0x0300, 0x0302}
	msg := make([]byte, 64+36+2*len(dialects))
	copy(msg, []byte{0xfe, 'S', 'M', 'B'})
	binary.LittleEndian.PutUint16(msg[4:], 64) // header length
	body := msg[64:]
	binary.LittleEndian.PutUint16(body[0:], 36)
	binary.LittleEndian.PutUint16(body[2:], uint16(len(dialects)))
	binary.LittleEndian.PutUint16(body[4:], 1) // signing enabled
	for i, d := range dialects {
		binary.LittleEndian.PutUint16(body[36+2*i:], d)
	}
	frame := []byte{0, 0, byte(len(msg) >> 8), byte(len(msg))}
	return append(frame, msg...)
}

func matchSMB(resp []byte) *scan.Service {
	if len(resp) >= 8 && (bytes.Equal(resp[4:8], []byte{0xfe, 'S', 'M', 'B'}) || bytes.Equal(resp[4:8], []byte{0xff, 'S', 'M', 'B'})) {
		s := &scan.Service{Name: "microsoft-ds", ExtraInfo: "SMB2"}
		if resp[4] == 0xff {
			s.ExtraInfo = "SMB1"
		}
		if len(resp) >= 4+64+6 && resp[4] == 0xfe {
			d := binary.LittleEndian.Uint16(resp[4+64+4:])
			s.ExtraInfo = "SMB dialect " + map[uint16]string{0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}[d]
		}
		return s
	}
	return nil
}

// rdpConnectionRequest is an X.224 Connection Request with an RDP
// negotiation request for TLS.
var rdpConnectionRequest = []byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00}

func matchRDP(resp []byte) *scan.Service {
	if len(resp) >= 11 && resp[0] == 0x03 && resp[1] == 0x00 && resp[5] == 0xd0 {
		return &scan.Service{Name: "ms-wbt-server", ExtraInfo: "RDP"}
	}
	return nil
}

var amqpHeader = []byte("AMQP\x00\x00\x09\x01")

func matchAMQP(resp []byte) *scan.Service {
	if bytes.HasPrefix(resp, []byte("AMQP")) {
		return &scan.Service{Name: "amqp", ExtraInfo: "protocol mismatch"}
	}
	// A Connection.Start method frame: type 1, channel 0, class 10, method 10.
	if len(resp) < 11 || resp[0] != 1 || !bytes.Equal(resp[7:11], []byte{0, 10, 0, 10}) {
		return nil
	}
	s := &scan.Service{Name: "amqp", ExtraInfo: "AMQP 0-9-1"}
	s.Product = amqpProperty(resp, "product")
	s.Version = amqpProperty(resp, "version")
	return s
}

// amqpProperty finds a longstr value ('S') in a field table by its key.
func amqpProperty(b []byte, key string) string {
	k := append([]byte{byte(len(key))}, key...)
	i := bytes.Index(b, append(k, 'S'))
	if i < 0 || i+len(k)+5 > len(b) {
		return ""
	}
	i += len(k) + 1
	n := int(binary.BigEndian.Uint32(b[i:]))
	if i+4+n > len(b) {
		return ""
	}
	return string(b[i+4 : i+4+n])
}

// mqttConnect is an MQTT 3.1.1 CONNECT with client id "vigil".
var mqttConnect = []byte{0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x05, 'v', 'i', 'g', 'i', 'l'}

func matchMQTT(resp []byte) *scan.Service {
	if len(resp) >= 4 && resp[0] == 0x20 && resp[1] == 0x02 {
		return &scan.Service{Name: "mqtt", ExtraInfo: "CONNACK return code " + string('0'+rune(resp[3]))}
	}
	return nil
}

// dnsVersionBindTCP is the version.bind CHAOS TXT query, length-prefixed for TCP.
var dnsVersionBindTCP = []byte{0x00, 0x1e, 0x56, 0x47, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x07, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x04, 'b', 'i', 'n', 'd', 0x00, 0x00, 0x10, 0x00, 0x03}

func matchDNSTCP(resp []byte) *scan.Service {
	if len(resp) < 14 || resp[2] != 0x56 || resp[3] != 0x47 || resp[4]&0x80 == 0 {
		return nil
	}
	v := scan.DNSTXT(resp[2:])
	return &scan.Service{Name: "domain", Product: scan.BindProduct(v), Version: v}
}

func constPayload(b []byte) func(string) []byte { return func(string) []byte { return b } }

// probes are tried in this order after those hinted by the port.
var probes = []probe{
	{name: "http", ports: []int{80, 81, 443, 591, 3000, 5000, 5601, 8000, 8008, 8080, 8081, 8088, 8443, 8888, 9000, 9090, 9200, 9443},
		payload: func(host string) []byte {
			return []byte("GET / HTTP/1.0\r\nHost: " + host + "\r\nUser-Agent: Vigil\r\nAccept: */*\r\n\r\n")
		}, match: matchHTTP},
	{name: "redis", ports: []int{6379, 6380}, payload: constPayload([]byte("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")), match: matchRedis},
	{name: "memcached", ports: []int{11211}, payload: constPayload([]byte("version\r\n")), match: matchMemcached},
	{name: "postgresql", ports: []int{5432, 5433}, payload: constPayload(postgresSSLRequest), match: matchPostgres},
	{name: "mongodb", ports: []int{27017, 27018, 27019}, payload: mongoIsMaster, match: matchMongo},
	{name: "ldap", ports: []int{389, 3268}, payload: constPayload(ldapAnonymousBind), match: matchLDAP},
	{name: "smb", ports: []int{445, 139}, payload: smb2Negotiate, match: matchSMB},
	{name: "rdp", ports: []int{3389}, payload: constPayload(rdpConnectionRequest), match: matchRDP},
	{name: "amqp", ports: []int{5672}, payload: constPayload(amqpHeader), match: matchAMQP},
	{name: "mqtt", ports: []int{1883}, payload: constPayload(mqttConnect), match: matchMQTT},
	{name: "dns", ports: []int{53}, payload: constPayload(dnsVersionBindTCP), match: matchDNSTCP},
}
