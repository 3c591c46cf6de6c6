package scan

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pinger sends ICMP echo requests to many hosts over one socket per address
// family and matches the replies to waiting callers. It uses a raw socket
// when privileged and an unprivileged ICMP datagram socket otherwise (Linux
// allows those to groups in net.ipv4.ping_group_range).
type pinger struct {
	v4, v6     *icmp.PacketConn
	privileged bool
	id         int
	seq        atomic.Uint32
	mu         sync.Mutex
	waiters    map[pingKey]chan time.Time
}

type pingKey struct {
	addr netip.Addr
	seq  int
}

func openPinger() (*pinger, error) {
	p := &pinger{id: os.Getpid() & 0xffff, waiters: map[pingKey]chan time.Time{}}
	var err4, err6 error
	if p.v4, err4 = icmp.ListenPacket("ip4:icmp", "0.0.0.0"); err4 == nil {
		p.privileged = true
	} else if p.v4, err4 = icmp.ListenPacket("udp4", "0.0.0.0"); err4 != nil {
		p.v4 = nil
	}
	if p.privileged {
		if p.v6, err6 = icmp.ListenPacket("ip6:ipv6-icmp", "::"); err6 != nil {
			p.v6 = nil
		}
	} else if p.v6, err6 = icmp.ListenPacket("udp6", "::"); err6 != nil {
		p.v6 = nil
	}
	if p.v4 == nil && p.v6 == nil {
		return nil, errors.Join(err4, err6)
	}
	return p, nil
}

// Close closes the sockets; receive loops end.
func (p *pinger) Close() {
	if p.v4 != nil {
		p.v4.Close()
	}
	if p.v6 != nil {
		p.v6.Close()
	}
}

// receive dispatches replies until ctx ends or the sockets close.
func (p *pinger) receive(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range []struct {
		conn  *icmp.PacketConn
		proto int
	}{{p.v4, 1}, {p.v6, 58}} {
		if c.conn == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			for ctx.Err() == nil {
				_ = c.conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
				n, peer, err := c.conn.ReadFrom(buf)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue
					}
					return
				}
				at := time.Now()
				m, err := icmp.ParseMessage(c.proto, buf[:n])
				if err != nil {
					continue
				}
				echo, ok := m.Body.(*icmp.Echo)
				if !ok || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
					continue
				}
				// Datagram sockets rewrite the id to the socket's port; raw
				// sockets see every reply on the machine, so check ours.
				if p.privileged && echo.ID != p.id {
					continue
				}
				a := peerAddr(peer)
				p.mu.Lock()
				if ch, ok := p.waiters[pingKey{a, echo.Seq}]; ok {
					select {
					case ch <- at:
					default:
					}
				}
				p.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func peerAddr(a net.Addr) netip.Addr {
	switch v := a.(type) {
	case *net.IPAddr:
		ip, _ := netip.AddrFromSlice(v.IP)
		return ip.Unmap()
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(v.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// ping sends up to tries echo requests to a, each waiting timeout, and
// returns the round-trip time of the first reply.
func (p *pinger) ping(ctx context.Context, lim *limiter, a netip.Addr, timeout time.Duration, tries int) (time.Duration, bool) {
	conn, typ := p.v4, icmp.Type(ipv4.ICMPTypeEcho)
	if !a.Is4() {
		conn, typ = p.v6, ipv6.ICMPTypeEchoRequest
	}
	if conn == nil {
		return 0, false
	}
	var dst net.Addr = &net.IPAddr{IP: a.AsSlice()}
	if !p.privileged {
		dst = &net.UDPAddr{IP: a.AsSlice()}
	}
	for i := 0; i < tries; i++ {
		if lim.Wait(ctx) != nil {
			return 0, false
		}
		seq := int(p.seq.Add(1) & 0xffff)
		key := pingKey{a, seq}
		ch := make(chan time.Time, 1)
		p.mu.Lock()
		p.waiters[key] = ch
		p.mu.Unlock()
		msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: p.id, Seq: seq, Data: []byte("vigil-discovery")}}
		b, _ := msg.Marshal(nil)
		sent := time.Now()
		_, err := conn.WriteTo(b, dst)
		var got time.Time
		if err == nil {
			t := time.NewTimer(timeout)
			select {
			case got = <-ch:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		p.mu.Lock()
		delete(p.waiters, key)
		p.mu.Unlock()
		if !got.IsZero() {
			return got.Sub(sent), true
		}
		if ctx.Err() != nil {
			return 0, false
		}
	}
	return 0, false
}
