package testbed

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Socket is a listening (TCP) or bound (UDP) socket from the kernel's tables.
type Socket struct {
	Addr string // "0.0.0.0" and "::" mean every address
	Port int
}

// ListeningSockets reads /proc/net/{tcp,tcp6} (LISTEN sockets) or
// /proc/net/{udp,udp6} (bound sockets): the kernel's own answer to "what is
// open", which scan results are compared with.
func ListeningSockets(proto string) ([]Socket, error) {
	var out []Socket
	for _, f := range []string{"/proc/net/" + proto, "/proc/net/" + proto + "6"} {
		file, err := os.Open(f)
		if err != nil {
			if f == "/proc/net/"+proto {
				return nil, err
			}
			continue
		}
		sc := bufio.NewScanner(file)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 {
				continue
			}
			if proto == "tcp" && fields[3] != "0A" { // TCP_LISTEN
				continue
			}
			addr, port, ok := parseHexAddr(fields[1])
			if ok {
				out = append(out, Socket{Addr: addr, Port: port})
			}
		}
		file.Close()
	}
	return out, nil
}

// parseHexAddr decodes "0100007F:0016" (little-endian words) to 127.0.0.1, 22.
func parseHexAddr(s string) (string, int, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", 0, false
	}
	b, err := hex.DecodeString(a)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return "", 0, false
	}
	// Each 32-bit word is in host (little-endian) order.
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	ip, _ := netip.AddrFromSlice(b)
	return ip.Unmap().String(), int(port), true
}

// OpenTCPPorts returns the TCP ports a connection to host would find open:
// sockets listening on host itself or on every address.
func OpenTCPPorts(host string) (map[int]bool, error) {
	socks, err := ListeningSockets("tcp")
	if err != nil {
		return nil, err
	}
	h := netip.MustParseAddr(host)
	out := map[int]bool{}
	for _, s := range socks {
		a, err := netip.ParseAddr(s.Addr)
		if err != nil {
			continue
		}
		if a == h || (a.IsUnspecified() && (a.Is4() == h.Is4() || a.Is6())) {
			out[s.Port] = true
		}
	}
	return out, nil
}
