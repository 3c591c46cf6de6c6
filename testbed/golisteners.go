package testbed

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Go listeners stand in for protocols whose servers are not installed. Each
// answers the way the real server's first exchange does.
var goListeners = []struct {
	svc    Service
	handle func(c net.Conn)
}{
	{Service{GoHost, 23, "tcp", "telnet", ""}, func(c net.Conn) { c.Write([]byte{0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20, 0xff, 0xfd, 0x23}); readSome(c) }},
	{Service{GoHost, 5900, "tcp", "vnc", "VNC"}, func(c net.Conn) { c.Write([]byte("RFB 003.008\n")); readSome(c) }},
	{Service{GoHost, 9200, "tcp", "elasticsearch", "Elasticsearch"}, func(c net.Conn) {
		// A real HTTP server on this one connection, answering like Elasticsearch's root.
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-elastic-product", "Elasticsearch")
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"name":"node-1","cluster_name":"testbed","version":{"number":"8.11.1","lucene_version":"9.8.0"},"tagline":"You Know, for Search"}`+"\n")
		}), ReadHeaderTimeout: 10 * time.Second}
		l := &oneConnListener{c: c, closed: make(chan struct{})}
		srv.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				close(l.closed)
			}
		}
		_ = srv.Serve(l)
	}},
	{Service{GoHost, 27017, "tcp", "mongodb", "MongoDB"}, func(c net.Conn) {
		req := readSome(c)
		if len(req) < 16 {
			return
		}
		doc := []byte("\x1d\x00\x00\x00\x08ismaster\x00\x01\x01ok\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\x00")
		body := append(make([]byte, 20), doc...) // flags, cursor id, starting from, number returned
		binary.LittleEndian.PutUint32(body[16:], 1)
		hdr := make([]byte, 16)
		binary.LittleEndian.PutUint32(hdr[0:], uint32(16+len(body)))
		binary.LittleEndian.PutUint32(hdr[4:], 1)
		copy(hdr[8:12], req[4:8])                  // responseTo = the request id
		binary.LittleEndian.PutUint32(hdr[12:], 1) // OP_REPLY
		c.Write(append(hdr, body...))
	}},
	{Service{GoHost, 389, "tcp", "ldap", ""}, func(c net.Conn) {
		readSome(c)
		c.Write([]byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00})
	}},
	{Service{GoHost, 3389, "tcp", "ms-wbt-server", ""}, func(c net.Conn) {
		readSome(c)
		c.Write([]byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00})
	}},
}

// oneConnListener hands one accepted connection to an http.Server.
type oneConnListener struct {
	c      net.Conn
	done   bool
	closed chan struct{} // closed when the server is done with c
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if l.done {
		<-l.closed // keep Serve (and so the connection) alive until it ends
		return nil, io.EOF
	}
	l.done = true
	return l.c, nil
}
func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }

func readSome(c net.Conn) []byte {
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := c.Read(buf)
	return buf[:n]
}

func startGoListeners() ([]Service, []func(), error) {
	var svcs []Service
	var closers []func()
	for _, l := range goListeners {
		ln, err := net.Listen("tcp", net.JoinHostPort(l.svc.Host, strconv.Itoa(l.svc.Port)))
		if err != nil {
			for _, c := range closers {
				c()
			}
			return nil, nil, err
		}
		closers = append(closers, func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); l.handle(c) }()
			}
		}()
		svcs = append(svcs, l.svc)
	}
	return svcs, closers, nil
}

// AcceptAndClose listens on host:port (port 0: any) and closes every
// connection it accepts: an open port with nothing behind it, for tests.
func AcceptAndClose(host string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln, nil
}
