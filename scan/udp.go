package scan

import (
	"context"
	"errors"
	"net"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vigilscan/vigil"
)

// udpResult is a probed UDP port.
type udpResult struct {
	port     int
	state    PortState
	reason   string
	response []byte
}

// udpPayloads are protocol requests that make a UDP service answer; a
// service that ignores unknown datagrams stays open|filtered without one.
var udpPayloads = map[int][]byte{
	// DNS: a CHAOS TXT query for version.bind; servers answer even if they refuse it.
	53: {0x56, 0x47, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x07, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x04, 'b', 'i', 'n', 'd', 0x00, 0x00, 0x10, 0x00, 0x03},
	// NTP: a version 4 client request.
	123: append([]byte{0x23}, make([]byte, 47)...),
	// NetBIOS: node status request for "*".
	137: {0x56, 0x47, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x43, 0x4b,
		0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
		0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x00, 0x00, 0x21, 0x00, 0x01},
	// SNMP v2c GetRequest for sysDescr.0 with community "public".
	161: snmpGetSysDescr("public"),
	// SSDP discovery.
	1900: []byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"),
	// Memcached's UDP frame header, then "version".
	11211: append([]byte{0x56, 0x47, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}, []byte("version\r\n")...),
}

// snmpGetSysDescr encodes an SNMP v2c GetRequest for 1.3.6.1.2.1.1.1.0.
func snmpGetSysDescr(community string) []byte {
	tlv := func(tag byte, body []byte) []byte { return append([]byte{tag, byte(len(body))}, body...) }
	oid := []byte{0x2b, 6, 1, 2, 1, 1, 1, 0}
	varbind := tlv(0x30, append(tlv(0x06, oid), 0x05, 0x00))
	pdu := tlv(0xa0, append(append(append(tlv(0x02, []byte{0x56, 0x47}), tlv(0x02, []byte{0})...), tlv(0x02, []byte{0})...), tlv(0x30, varbind)...))
	msg := append(append(tlv(0x02, []byte{1}), tlv(0x04, []byte(community))...), pdu...)
	return tlv(0x30, msg)
}

// scanUDP probes the UDP ports of the scan on t: an answer means open, an
// ICMP port unreachable (ECONNREFUSED on a connected socket) closed, and
// silence open|filtered.
func (e *engine) scanUDP(ctx context.Context, t target, est *rttEstimator) []udpResult {
	var ports []int
	for _, r := range e.ports {
		if r.Protocol == vigil.UDP {
			for p := r.Start; p <= r.End; p++ {
				ports = append(ports, p)
			}
		}
	}
	if len(ports) == 0 {
		return nil
	}
	var (
		mu  sync.Mutex
		out []udpResult
		wg  sync.WaitGroup
	)
	sem := make(chan struct{}, min(64, e.cfg.MaxConnsPerHost))
	for _, port := range ports {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := e.probeUDP(ctx, t, port, est)
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			out = append(out, r)
			mu.Unlock()
			if r.state == StateOpen || r.state == StateOpenFiltered {
				e.emit(ctx, Event{Type: EventPort, Host: t.addr, Hostname: t.hostname, Port: port, Protocol: "udp", State: r.state, Reason: r.reason})
			}
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].port < out[j].port })
	return out
}

func (e *engine) probeUDP(ctx context.Context, t target, port int, est *rttEstimator) udpResult {
	conn, err := e.dialer.DialContext(ctx, "udp", net.JoinHostPort(t.addr.String(), strconv.Itoa(port)))
	if err != nil {
		return udpResult{port: port, state: StateFiltered, reason: "error: " + err.Error()}
	}
	defer conn.Close()
	payload := udpPayloads[port]
	buf := make([]byte, 4096)
	// UDP services answer slower than kernels refuse TCP: never wait less than 500 ms.
	timeout := max(est.Timeout(), 500*time.Millisecond)
	for attempt := 0; attempt <= e.cfg.Retries; attempt++ {
		if e.limiter.Wait(ctx) != nil {
			break
		}
		e.probes.Add(1)
		if _, err := conn.Write(payload); err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				return udpResult{port: port, state: StateClosed, reason: "port-unreach"}
			}
			return udpResult{port: port, state: StateFiltered, reason: "error: " + err.Error()}
		}
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
		n, err := conn.Read(buf)
		stop()
		switch {
		case err == nil:
			return udpResult{port: port, state: StateOpen, reason: "udp-response", response: append([]byte(nil), buf[:n]...)}
		case errors.Is(err, syscall.ECONNREFUSED):
			return udpResult{port: port, state: StateClosed, reason: "port-unreach"}
		case ctx.Err() != nil:
			return udpResult{port: port, state: StateOpenFiltered, reason: "cancelled"}
		}
	}
	return udpResult{port: port, state: StateOpenFiltered, reason: "no-response"}
}
