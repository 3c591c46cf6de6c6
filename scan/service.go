package scan

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// wellKnown maps well-known ports to IANA service names; it names a port
// when no probe identifies it ("port-guess", low confidence).
var wellKnown = map[int]string{
	21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 80: "http", 110: "pop3", 111: "rpcbind",
	123: "ntp", 135: "msrpc", 137: "netbios-ns", 139: "netbios-ssn", 143: "imap", 161: "snmp", 389: "ldap",
	443: "https", 445: "microsoft-ds", 465: "smtps", 587: "submission", 636: "ldaps", 993: "imaps", 995: "pop3s",
	1433: "ms-sql-s", 1521: "oracle", 1883: "mqtt", 1900: "upnp", 4222: "nats", 2049: "nfs", 3306: "mysql", 3389: "ms-wbt-server",
	5432: "postgresql", 5672: "amqp", 5900: "vnc", 6379: "redis", 8080: "http-proxy", 8443: "https-alt",
	8883: "secure-mqtt", 9200: "elasticsearch", 11211: "memcached", 27017: "mongodb",
}

// tlsNames are the names of services spoken over TLS.
var tlsNames = map[string]string{"http": "https", "imap": "imaps", "pop3": "pop3s", "smtp": "smtps", "ftp": "ftps",
	"ldap": "ldaps", "mqtt": "secure-mqtt"}

// TLSName is the name of service name spoken over TLS ("http" → "https";
// names without one get the "ssl/" prefix).
func TLSName(name string) string {
	if n, ok := tlsNames[name]; ok {
		return n
	}
	if name == "elasticsearch" {
		return name
	}
	return "ssl/" + name
}

// PlainName reverses TLSName: the service under the TLS tunnel ("https" → "http").
func PlainName(name string) string {
	for plain, t := range tlsNames {
		if t == name {
			return plain
		}
	}
	return strings.TrimPrefix(name, "ssl/")
}

// WellKnownService returns the conventional service name of a port, or "".
func WellKnownService(port int) string { return wellKnown[port] }

// detectServices identifies what runs on the open ports of t.
func (e *engine) detectServices(ctx context.Context, t target, tcpOpen []int, udp []udpResult) []PortService {
	var mu sync.Mutex
	var found []PortService
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, port := range tcpOpen {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return found
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var svc *Service
			if e.cfg.DetectService != nil {
				sctx, cancel := context.WithTimeout(ctx, e.cfg.ServiceTimeout)
				s, err := e.cfg.DetectService(sctx, e.dialer, t.addr, port)
				cancel()
				if err != nil && ctx.Err() == nil {
					e.emit(ctx, Event{Type: EventError, Host: t.addr, Port: port, Protocol: "tcp", Message: "service detection: " + err.Error()})
				}
				svc = s
			}
			if svc == nil {
				svc = &Service{Name: wellKnown[port], Method: "port-guess", Confidence: 3}
				if svc.Name == "" {
					svc.Name = "unknown"
					svc.Confidence = 0
				}
			}
			e.emit(ctx, Event{Type: EventService, Host: t.addr, Hostname: t.hostname, Port: port, Protocol: "tcp", Service: svc})
			mu.Lock()
			found = append(found, PortService{Port: port, Protocol: "tcp", Service: svc})
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, u := range udp {
		if u.state != StateOpen && u.state != StateOpenFiltered {
			continue
		}
		svc := identifyUDP(u.port, u.response)
		e.emit(ctx, Event{Type: EventService, Host: t.addr, Hostname: t.hostname, Port: u.port, Protocol: "udp", Service: svc})
		found = append(found, PortService{Port: u.port, Protocol: "udp", Service: svc})
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Protocol != found[j].Protocol {
			return found[i].Protocol < found[j].Protocol
		}
		return found[i].Port < found[j].Port
	})
	return found
}

// identifyUDP names a UDP service from the answer to its payload.
func identifyUDP(port int, resp []byte) *Service {
	svc := &Service{Name: wellKnown[port], Method: "port-guess", Confidence: 3, Banner: printable(resp, 256)}
	if svc.Name == "" {
		svc.Name = "unknown"
		svc.Confidence = 0
	}
	if len(resp) == 0 {
		return svc
	}
	switch port {
	case 53:
		if len(resp) >= 12 && resp[0] == 0x56 && resp[1] == 0x47 && resp[2]&0x80 != 0 {
			svc.Name, svc.Method, svc.Confidence = "domain", "probed", 10
			svc.Version = DNSTXT(resp)
			svc.Product = BindProduct(svc.Version)
		}
	case 161:
		if len(resp) > 2 && resp[0] == 0x30 {
			svc.Name, svc.Method, svc.Confidence = "snmp", "probed", 10
			svc.ExtraInfo = lastOctetString(resp)
			if strings.HasPrefix(svc.ExtraInfo, "Linux") {
				svc.Product = "net-snmp"
			}
		}
	case 123:
		if len(resp) >= 48 && resp[0]&0x07 == 4 {
			svc.Name, svc.Method, svc.Confidence = "ntp", "probed", 10
			svc.Version = "v" + strconv.Itoa(int(resp[0]>>3&0x07))
		}
	case 11211:
		if i := bytes.Index(resp, []byte("VERSION ")); i >= 0 {
			svc.Name, svc.Product, svc.Method, svc.Confidence = "memcached", "Memcached", "probed", 10
			svc.Version = strings.TrimSpace(string(resp[i+8:]))
		}
	}
	return svc
}

// BindProduct names ISC BIND from its version.bind answer ("9.18.49-1~deb12u3-Debian").
func BindProduct(version string) string {
	if strings.HasPrefix(version, "9.") || strings.Contains(version, "BIND") {
		return "ISC BIND"
	}
	return ""
}

// DNSTXT returns the first TXT string of the answer to Vigil's version.bind
// query (a DNS message without the TCP length prefix), if any.
func DNSTXT(b []byte) string {
	// The answer follows our 30-byte question; a TXT rdata is <len><text>.
	if len(b) < 42 || b[7] == 0 {
		return ""
	}
	i := 30
	if b[i]&0xc0 == 0xc0 {
		i += 2
	} else {
		for i < len(b) && b[i] != 0 {
			i += int(b[i]) + 1
		}
		i++
	}
	i += 8 // type, class, ttl
	if i+3 > len(b) {
		return ""
	}
	rdlen := int(b[i])<<8 | int(b[i+1])
	i += 2
	if rdlen == 0 || i+1+int(b[i]) > len(b) {
		return ""
	}
	return string(b[i+1 : i+1+int(b[i])])
}

// lastOctetString returns the last BER OCTET STRING in b (sysDescr's value).
func lastOctetString(b []byte) string {
	var last string
	for i := 0; i+2 <= len(b); i++ {
		if b[i] == 0x04 && int(b[i+1]) < 0x80 && i+2+int(b[i+1]) <= len(b) {
			s := b[i+2 : i+2+int(b[i+1])]
			if isPrintable(s) && len(s) > len(last)/2 {
				last = string(s)
			}
		}
	}
	return last
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c > 0x7e {
			return false
		}
	}
	return true
}

// printable renders up to n bytes, escaping non-printable ones.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c >= 0x20 && c <= 0x7e:
			sb.WriteByte(c)
		default:
			sb.WriteString(`\x`)
			sb.WriteString(strconv.FormatUint(uint64(c)>>4, 16))
			sb.WriteString(strconv.FormatUint(uint64(c)&0xf, 16))
		}
	}
	return sb.String()
}

// Printable is printable for other packages (banners in service results).
func Printable(b []byte, n int) string { return printable(b, n) }
