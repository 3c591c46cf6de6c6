package checks

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/jackc/pgx/v5/pgproto3"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/vigilscan/vigil/scan"
)

func tcpListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// udpServer answers each datagram with reply(datagram) (nil: silence).
func udpServer(t *testing.T, reply func([]byte) []byte) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveDatagrams(t, pc, reply)
}

// serveDatagrams answers pc's datagrams until the test ends and returns its port.
func serveDatagrams(t *testing.T, pc net.PacketConn, reply func([]byte) []byte) int {
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := reply(append([]byte{}, buf[:n]...)); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func only(t *testing.T, ids ...string) *Runner {
	t.Helper()
	r := &Runner{}
	for _, id := range ids {
		c, ok := ByID(id)
		if !ok {
			t.Fatalf("no check %s is registered", id)
		}
		r.Checks = append(r.Checks, c)
	}
	return r
}

func expect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestSSLv3(t *testing.T) {
	server := func(accept bool) int {
		return serveConns(t, tcpListen(t), func(c net.Conn) {
			hdr := make([]byte, 5)
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
			io.ReadFull(c, body)
			if !accept || hdr[1] != 3 || body[4] != 3 || body[5] != 0 {
				c.Write([]byte{21, 3, 0, 0, 2, 2, 40}) // handshake_failure
				return
			}
			sh := append([]byte{3, 0}, make([]byte, 32)...)
			sh = append(sh, 0, 0x00, 0x2f, 0) // no session id, TLS_RSA_WITH_AES_128_CBC_SHA, null compression
			hs := append([]byte{2, 0, byte(len(sh) >> 8), byte(len(sh))}, sh...)
			c.Write(append([]byte{22, 3, 0, byte(len(hs) >> 8), byte(len(hs))}, hs...))
		})
	}
	tlsSvc := func(port int) scan.PortService {
		ps := svc(port, "https")
		ps.Service.TLS = &scan.TLSInfo{Version: "TLS 1.2"}
		return ps
	}
	r := only(t, "vigil.sslv3-enabled")
	expect(t, "SSL 3.0 server", run(t, r, tlsSvc(server(true))), "vigil.sslv3-enabled")
	expect(t, "TLS-only server", run(t, r, tlsSvc(server(false))))
}

func TestSNMPDefaultCommunity(t *testing.T) {
	agent := func(community string) int {
		return udpServer(t, func(b []byte) []byte {
			dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
			req, err := dec.SnmpDecodePacket(b)
			if err != nil || req.Community != community {
				return nil // agents ignore a wrong community
			}
			resp := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community, PDUType: gosnmp.GetResponse, RequestID: req.RequestID,
				Variables: []gosnmp.SnmpPDU{{Name: sysDescr, Type: gosnmp.OctetString, Value: []byte("Linux testbed 6.1.0 x86_64")}}}
			out, _ := resp.MarshalMsg()
			return out
		})
	}
	udp := func(port int) scan.PortService {
		return scan.PortService{Port: port, Protocol: "udp", Service: &scan.Service{Name: "snmp"}}
	}
	r := only(t, "vigil.snmp-default-community")
	r.Timeout = 300 * time.Millisecond
	expect(t, "public agent", run(t, r, udp(agent("public"))), "vigil.snmp-default-community")
	expect(t, "agent with its own community", run(t, r, udp(agent("n0t-a-default"))))
}

// dnsServer answers like BIND: recursion offered or refused, and AXFR of
// testbed.example allowed or refused; the PTR of 127.0.0.1 names a host in it.
func dnsServer(t *testing.T, recursion, axfr bool) int {
	answer := func(q []byte) []byte {
		var m dnsmessage.Message
		if m.Unpack(q) != nil || len(m.Questions) != 1 {
			return nil
		}
		qu := m.Questions[0]
		m.Response, m.RecursionAvailable = true, recursion
		name := qu.Name.String()
		switch {
		case qu.Type == dnsmessage.TypePTR && name == "1.0.0.127.in-addr.arpa.":
			m.Authoritative = true
			m.Answers = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: qu.Name, Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET},
				Body: &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName("ns1.testbed.example.")}}}
		case qu.Type == dnsmessage.TypeAXFR && name == "testbed.example." && axfr:
			m.Authoritative = true
			soa := &dnsmessage.SOAResource{NS: dnsmessage.MustNewName("ns1.testbed.example."), MBox: dnsmessage.MustNewName("root.testbed.example."), Serial: 1}
			m.Answers = []dnsmessage.Resource{
				{Header: dnsmessage.ResourceHeader{Name: qu.Name, Type: dnsmessage.TypeSOA, Class: dnsmessage.ClassINET}, Body: soa},
				{Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("db.testbed.example."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET},
					Body: &dnsmessage.AResource{A: [4]byte{127, 0, 9, 5}}},
			}
		case strings.HasSuffix(name, "example.com.") && recursion:
			m.RCode = dnsmessage.RCodeNameError
		default:
			m.RCode = dnsmessage.RCodeRefused
		}
		out, _ := m.Pack()
		return out
	}
	ln := tcpListen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	serveDatagrams(t, pc, answer)
	serveConns(t, ln, func(c net.Conn) {
		for {
			q, err := readTCPDNS(c)
			if err != nil {
				return
			}
			if out := answer(q); out != nil {
				writeTCPDNS(c, out)
			}
		}
	})
	return port
}

func TestDNSChecks(t *testing.T) {
	r := only(t, "vigil.dns-open-recursion", "vigil.dns-zone-transfer")
	both := func(port int) []scan.PortService {
		return []scan.PortService{svc(port, "domain"), {Port: port, Protocol: "udp", Service: &scan.Service{Name: "domain"}}}
	}
	expect(t, "open resolver allowing AXFR", run(t, r, both(dnsServer(t, true, true))...),
		"vigil.dns-open-recursion", "vigil.dns-open-recursion", "vigil.dns-zone-transfer")
	expect(t, "authoritative-only server refusing AXFR", run(t, r, both(dnsServer(t, false, false))...))
}

func TestSMTPOpenRelay(t *testing.T) {
	mta := func(relay bool) int {
		return lineServer(t, "220 testbed ESMTP Exim 4.96", func(l string) string {
			switch {
			case strings.HasPrefix(l, "EHLO"):
				return "250-testbed Hello\r\n250 HELP\r\n"
			case strings.HasPrefix(l, "MAIL"), l == "RSET":
				return "250 OK\r\n"
			case strings.HasPrefix(l, "RCPT") && relay:
				return "250 Accepted\r\n"
			case strings.HasPrefix(l, "RCPT"):
				return "550 relay not permitted\r\n"
			case strings.HasPrefix(l, "DATA"):
				t.Errorf("the relay check sent DATA")
			}
			return "221 closing connection\r\n"
		})
	}
	r := only(t, "vigil.smtp-open-relay")
	expect(t, "open relay", run(t, r, svc(mta(true), "smtp")), "vigil.smtp-open-relay")
	expect(t, "closed relay", run(t, r, svc(mta(false), "smtp")))
}

// smbServer speaks enough SMB: an SMB 1 negotiate is answered (smb1) or
// the connection closed; an SMB 2 negotiate gets the security mode.
func smbServer(t *testing.T, smb1 bool, secMode uint16) int {
	return serveConns(t, tcpListen(t), func(c net.Conn) {
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		req := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		var resp []byte
		switch {
		case strings.HasPrefix(string(req), "\xffSMB") && smb1:
			resp = make([]byte, 32+1+34)
			copy(resp, "\xffSMB")
			resp[4] = 0x72
			resp[32] = 17                               // word count
			binary.LittleEndian.PutUint16(resp[33:], 0) // dialect index 0: NT LM 0.12
			resp[35] = 0x03                             // user security, encrypt passwords
		case strings.HasPrefix(string(req), "\xfeSMB"):
			resp = make([]byte, 64+65)
			copy(resp, "\xfeSMB")
			binary.LittleEndian.PutUint16(resp[4:], 64)
			binary.LittleEndian.PutUint16(resp[64:], 65)
			binary.LittleEndian.PutUint16(resp[66:], secMode)
			binary.LittleEndian.PutUint16(resp[68:], 0x0302)
		default:
			return // Samba without SMB 1 closes the connection
		}
		c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(resp))), resp...))
	})
}

func TestSMBChecks(t *testing.T) {
	r := only(t, "vigil.smb-v1-enabled", "vigil.smb-signing-not-required")
	expect(t, "SMB 1 and signing optional", run(t, r, svc(smbServer(t, true, 0x01), "microsoft-ds")),
		"vigil.smb-signing-not-required", "vigil.smb-v1-enabled")
	expect(t, "SMB 2+ with signing required", run(t, r, svc(smbServer(t, false, 0x03), "microsoft-ds")))
}

// mongoServer answers OP_MSG like mongod with or without access control.
func mongoServer(t *testing.T, auth bool) int {
	return serveConns(t, tcpListen(t), func(c net.Conn) {
		var hdr [16]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		body := make([]byte, binary.LittleEndian.Uint32(hdr[:])-16)
		io.ReadFull(c, body)
		if !strings.Contains(string(body), "listDatabases") {
			t.Errorf("unexpected MongoDB command %q", body)
		}
		doc := bsonDoc(func(b []byte) []byte {
			if auth {
				b = append(append(b, 0x01), "ok\x00"...)
				b = binary.LittleEndian.AppendUint64(b, 0)
				b = append(append(b, 0x10), "code\x00"...)
				return binary.LittleEndian.AppendUint32(b, 13)
			}
			dbs := bsonDoc(func(a []byte) []byte {
				for i, name := range []string{"admin", "shop"} {
					a = append(append(a, 0x03), string(rune('0'+i))+"\x00"...)
					a = append(a, bsonDoc(func(d []byte) []byte {
						d = append(append(d, 0x02), "name\x00"...)
						d = binary.LittleEndian.AppendUint32(d, uint32(len(name)+1))
						return append(append(d, name...), 0)
					})...)
				}
				return a
			})
			b = append(append(b, 0x04), "databases\x00"...)
			b = append(b, dbs...)
			b = append(append(b, 0x01), "ok\x00"...)
			return binary.LittleEndian.AppendUint64(b, 0x3ff0000000000000)
		})
		msg := append(binary.LittleEndian.AppendUint32(nil, 0), 0)
		msg = append(msg, doc...)
		h := binary.LittleEndian.AppendUint32(nil, uint32(16+len(msg)))
		h = binary.LittleEndian.AppendUint32(h, 7)
		h = append(h, hdr[4:8]...)
		h = binary.LittleEndian.AppendUint32(h, 2013)
		c.Write(append(h, msg...))
	})
}

func bsonDoc(fill func([]byte) []byte) []byte {
	b := fill(nil)
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(b)+5)), append(b, 0)...)
}

func TestDatastoreChecks(t *testing.T) {
	es := func(auth bool) int {
		return httpServer(t, func(w http.ResponseWriter, r *http.Request) {
			if auth {
				w.Header().Set("WWW-Authenticate", `Basic realm="security"`)
				http.Error(w, `{"error":"missing authentication credentials"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("X-elastic-product", "Elasticsearch")
			w.Write([]byte(`{"name":"node-1","cluster_name":"prod","version":{"number":"8.11.1"},"tagline":"You Know, for Search"}`))
		})
	}
	r := only(t, "vigil.mongodb-noauth", "vigil.elasticsearch-noauth")
	expect(t, "open MongoDB and Elasticsearch", run(t, r, svc(mongoServer(t, false), "mongodb"), svc(es(false), "elasticsearch")),
		"vigil.elasticsearch-noauth", "vigil.mongodb-noauth")
	expect(t, "MongoDB and Elasticsearch with access control", run(t, r, svc(mongoServer(t, true), "mongodb"), svc(es(true), "elasticsearch")))
}

// pgServer signs in anyone (trust) or asks for a password it never accepts.
func pgServer(t *testing.T, trust bool) int {
	return serveConns(t, tcpListen(t), func(c net.Conn) {
		be := pgproto3.NewBackend(c, c)
		for {
			msg, err := be.ReceiveStartupMessage()
			if err != nil {
				return
			}
			if _, ok := msg.(*pgproto3.SSLRequest); ok {
				c.Write([]byte("N"))
				continue
			}
			break
		}
		if trust {
			be.Send(&pgproto3.AuthenticationOk{})
			be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 2}})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
			be.Receive() // Terminate
			return
		}
		be.Send(&pgproto3.AuthenticationCleartextPassword{})
		be.Flush()
		be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
		if _, err := be.Receive(); err != nil {
			return
		}
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "password authentication failed for user \"postgres\""})
		be.Flush()
	})
}

// mysqlServer greets with mysql_native_password and accepts root with an
// empty password (open) or nobody.
func mysqlServer(t *testing.T, open bool) int {
	return serveConns(t, tcpListen(t), func(c net.Conn) {
		g := []byte{10}
		g = append(g, "10.11.6-MariaDB-0+deb12u1\x00"...)
		g = binary.LittleEndian.AppendUint32(g, 7)
		g = append(g, "12345678"...)
		g = append(g, 0, 0xff, 0xf7, 33, 2, 0, 0xff, 0x81, 21)
		g = append(g, make([]byte, 10)...)
		g = append(g, "901234567890\x00"...)
		g = append(g, "mysql_native_password\x00"...)
		mysqlWrite(c, 0, g)
		r := bufio.NewReader(c)
		resp, _, err := mysqlRead(r)
		if err != nil || len(resp) < 33 {
			return
		}
		user, rest, _ := strings.Cut(string(resp[32:]), "\x00")
		authLen := rest[0]
		if open && user == "root" && authLen == 0 {
			mysqlWrite(c, 2, []byte{0, 0, 0, 2, 0, 0, 0})
			mysqlRead(r) // COM_QUIT
			return
		}
		mysqlWrite(c, 2, append([]byte{0xff, 0x15, 0x04}, "#28000Access denied for user 'root'@'localhost'"...))
	})
}

func TestDefaultCredentials(t *testing.T) {
	r := only(t, "vigil.postgresql-default-credentials", "vigil.mysql-default-credentials")
	expect(t, "trusting PostgreSQL, root without password in MariaDB", run(t, r, svc(pgServer(t, true), "postgresql"), svc(mysqlServer(t, true), "mysql")),
		"vigil.mysql-default-credentials", "vigil.postgresql-default-credentials")
	expect(t, "servers that ask for real passwords", run(t, r, svc(pgServer(t, false), "postgresql"), svc(mysqlServer(t, false), "mysql")))
}

func TestEndOfLife(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	cases := []struct {
		svc  scan.Service
		now  string
		want []string
	}{
		{scan.Service{Name: "http", Product: "Apache httpd", Version: "2.2.34"}, "2026-11-21", []string{"vigil.eol-software"}},
		{scan.Service{Name: "http", Product: "Apache httpd", Version: "2.4.62"}, "2026-11-21", nil},
		{scan.Service{Name: "http", Product: "Apache httpd", Version: "2.4.62", Banner: "Server: Apache/2.4.62 (Unix) OpenSSL/1.0.2k PHP/8.3.1"}, "2026-11-21", []string{"vigil.eol-software"}},
		{scan.Service{Name: "postgresql", Product: "PostgreSQL", Version: "14.12"}, "2026-11-12", nil}, // its last supported day
		{scan.Service{Name: "postgresql", Product: "PostgreSQL", Version: "14.12"}, "2026-11-13", []string{"vigil.eol-software"}},
		{scan.Service{Name: "postgresql", Product: "PostgreSQL", Version: "15.8"}, "2026-11-21", nil},
		{scan.Service{Name: "ssh", Product: "OpenSSH", Version: "7.9p1", Banner: "SSH-2.0-OpenSSH_7.9p1 Debian-10+deb10u4"}, "2026-11-21", []string{"vigil.eol-os-debian"}},
		{scan.Service{Name: "ssh", Product: "OpenSSH", Version: "9.2p1", Banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u7"}, "2026-11-21", nil},
		{scan.Service{Name: "ssh", Product: "OpenSSH", Version: "8.4p1", Banner: "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3"}, "2026-08-31", nil},
		{scan.Service{Name: "ssh", Product: "OpenSSH", Version: "8.4p1", Banner: "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3"}, "2026-09-01", []string{"vigil.eol-os-debian"}},
		{scan.Service{Name: "http", Product: "nginx", Version: "1.2.1"}, "2026-11-21", nil}, // branch not in the table: no verdict
	}
	r := only(t, "vigil.eol-software", "vigil.eol-os-debian")
	for _, c := range cases {
		now := day(c.now)
		r.Now = func() time.Time { return now }
		s := c.svc
		got := run(t, r, scan.PortService{Port: 1, Protocol: "tcp", Service: &s})
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s %s %q on %s: got %v, want %v", s.Product, s.Version, s.Banner, c.now, got, c.want)
		}
	}
	if _, _, ended := eolFor("MariaDB", "10.20.1", day("2030-01-01")); ended {
		t.Error("10.2 branch matched 10.20")
	}
}
