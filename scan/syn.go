package scan

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// synSocket sends TCP SYN probes and receives the answers (SYN-ACK: open,
// RST: closed) for every host of a run, over raw sockets: per address family
// one send-only socket (IPPROTO_RAW, we write the IP header) and one
// receiving socket. Probes leave from one source port that a bound (never
// connected) TCP socket reserves, so no other program on the machine can be
// handed the port while the scan runs; the kernel, knowing no connection on
// it, answers every SYN-ACK with a reset and no half-open connection lingers
// on the target. A classic BPF filter on that port keeps the machine's other
// TCP traffic out of the receiving socket, and the sequence number of each
// probe is a keyed hash of its destination, so stray or forged packets do not
// count.
//
// The sockets stay outside Go's network poller: on a fast link, waking a
// reader for every answer costs more than the answer itself, so the reader
// polls with a short, growing pause while nothing comes (see pollPause).
type synSocket struct {
	scope  Scope
	secret uint32
	fams   [2]*synFamily // [0] IPv4, [1] IPv6; nil when unavailable

	mu    sync.RWMutex
	hosts map[netip.Addr][]chan<- synAnswer // probers of each address

	closed  atomic.Bool
	started bool
	done    chan struct{} // closed when the receive loops have ended
	sendq   chan sendJob  // to the senders (made by start)

	// sent, when set, sees every probe just before it leaves (tests).
	sent func(dst netip.Addr, port int)
}

// synAnswer is one matching packet from a target.
type synAnswer struct {
	port uint16
	open bool // SYN-ACK; otherwise RST
	at   time.Time
}

// errSYNUnavailable wraps the reason raw sockets cannot be used.
var errSYNUnavailable = errors.New("SYN scan needs raw sockets (root or CAP_NET_RAW)")

// openSYNSocket opens the raw sockets; it fails unless at least IPv4 works.
func openSYNSocket(scope Scope) (*synSocket, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &synSocket{scope: scope, secret: binary.LittleEndian.Uint32(b[:]), hosts: map[netip.Addr][]chan<- synAnswer{},
		done: make(chan struct{})}
	f4, err := openSYNFamily(false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSYNUnavailable, err)
	}
	s.fams[0] = f4
	if f6, err := openSYNFamily(true); err == nil {
		s.fams[1] = f6
	}
	return s, nil
}

// start runs the receive loops until Close.
//
// Probes leave through one sender per CPU: on loopback and other fast paths
// the kernel does the target's half of the work (answering the SYN) inside
// the sender's system call, so one sender would leave the other cores idle.
func (s *synSocket) start() {
	s.started = true
	s.sendq = make(chan sendJob, 4*runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for j := range s.sendq {
				if err := j.p.f.sendBatch(j.buf, j.n); err != nil {
					j.p.err.CompareAndSwap(nil, &err)
				}
				j.p.free <- j.buf
			}
		}()
	}
	var wg sync.WaitGroup
	for _, f := range s.fams {
		if f != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.receive(f)
			}()
		}
	}
	go func() { wg.Wait(); close(s.done) }()
}

// Close stops the receive loops, then closes the sockets (never under a
// reader's feet: a closed descriptor number can be reused at once).
func (s *synSocket) Close() {
	if s.closed.Swap(true) {
		return
	}
	if s.started {
		close(s.sendq) // every prober has returned: nothing sends any more
		<-s.done       // a reader notices within maxPollPause
	}
	for _, f := range s.fams {
		if f != nil {
			f.close()
		}
	}
}

func (s *synSocket) family(a netip.Addr) *synFamily {
	if a.Is4() || a.Is4In6() {
		return s.fams[0]
	}
	return s.fams[1]
}

// cookie is the sequence number of the probe to dst:port (FNV-1a over a
// per-run secret, the address and the port).
func (s *synSocket) cookie(dst netip.Addr, port uint16) uint32 {
	h := s.secret ^ 2166136261
	b := dst.As16()
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	h = (h ^ uint32(port>>8)) * 16777619
	h = (h ^ uint32(port&0xff)) * 16777619
	return h
}

// register routes answers from addr to ch until the returned func is
// called. An address can have several probers at once (a TCP ping still
// winding down while the port scan starts); each gets every answer and
// keeps those to the probes it has outstanding.
func (s *synSocket) register(addr netip.Addr, ch chan<- synAnswer) (unregister func()) {
	s.mu.Lock()
	s.hosts[addr] = append(s.hosts[addr], ch)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		chans := slices.DeleteFunc(slices.Clone(s.hosts[addr]), func(c chan<- synAnswer) bool { return c == ch })
		if len(chans) == 0 {
			delete(s.hosts, addr)
		} else {
			s.hosts[addr] = chans
		}
	}
}

// dispatch checks one received TCP segment from src and hands a valid
// answer to the host's prober.
func (s *synSocket) dispatch(f *synFamily, src netip.Addr, seg []byte, at time.Time, tcp *layers.TCP) {
	if tcp.DecodeFromBytes(seg, gopacket.NilDecodeFeedback) != nil || uint16(tcp.DstPort) != f.port {
		return
	}
	if !tcp.ACK || (!tcp.RST && !tcp.SYN) || tcp.Ack != s.cookie(src, uint16(tcp.SrcPort))+1 {
		return
	}
	a := synAnswer{port: uint16(tcp.SrcPort), open: tcp.SYN, at: at}
	s.mu.RLock()
	for _, ch := range s.hosts[src] {
		select {
		case ch <- a:
		default: // the prober is behind; the probe is retransmitted
		}
	}
	s.mu.RUnlock()
}

// pollPause is how long the reader waits after finding nothing: short while
// answers flow, growing to maxPollPause when idle.
const (
	minPollPause = 50 * time.Microsecond
	maxPollPause = 2 * time.Millisecond
)

// synPacket builds probes to one host from a template: an IP header and a
// TCP SYN with an MSS option, serialized once with gopacket; each probe
// patches the destination port, the sequence number and the TCP checksum.
type synPacket struct {
	s        *synSocket
	f        *synFamily
	dst      netip.Addr
	template []byte
	tcpOff   int    // offset of the TCP header in template
	pseudo   uint32 // checksum of the pseudo-header

	cur  *synBatchBuf      // the batch being built
	free chan *synBatchBuf // batches not with a sender
	err  atomic.Pointer[error]
}

// sendJob is a batch of probes for a sender.
type sendJob struct {
	p   *synPacket
	buf *synBatchBuf
	n   int
}

// synBuffers is the number of batches per host: one being built while the
// others are with senders.
const synBuffers = 4

// newSYNPacket prepares probes to dst, or says why it cannot.
func (s *synSocket) newSYNPacket(dst netip.Addr) (*synPacket, error) {
	dst = dst.Unmap()
	if !s.scope.Allows(dst) {
		return nil, ErrOutOfScope
	}
	f := s.family(dst)
	if f == nil {
		return nil, fmt.Errorf("no raw IPv6 socket for %s", dst)
	}
	src, err := sourceAddr(dst)
	if err != nil {
		return nil, err
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(f.port),
		Window:  1024,
		SYN:     true,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}},
	}
	var ip interface {
		gopacket.SerializableLayer
		gopacket.NetworkLayer
	}
	if dst.Is4() {
		ip = &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	} else {
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	pseudo := pseudoSum(src.AsSlice(), dst.AsSlice())
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp); err != nil {
		return nil, err
	}
	p := &synPacket{s: s, f: f, dst: dst, template: buf.Bytes()}
	p.tcpOff = len(p.template) - 24
	p.pseudo = pseudo + uint32(layers.IPProtocolTCP) + 24
	p.free = make(chan *synBatchBuf, synBuffers)
	for range synBuffers {
		b := new(synBatchBuf)
		b.init(dst, len(p.template))
		p.free <- b
	}
	return p, nil
}

// pseudoSum adds up the addresses of the TCP pseudo-header.
func pseudoSum(src, dst net.IP) uint32 {
	var sum uint32
	for _, b := range [][]byte{src, dst} {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	return sum
}

// build writes the SYN to port into slot i of the batch.
func (p *synPacket) build(i int, port uint16) {
	if p.cur == nil {
		p.cur = <-p.free
	}
	b := p.cur.packet(i)
	copy(b, p.template)
	t := b[p.tcpOff:]
	binary.BigEndian.PutUint16(t[2:], port)
	binary.BigEndian.PutUint32(t[4:], p.s.cookie(p.dst, port))
	t[16], t[17] = 0, 0
	sum := p.pseudo
	for j := 0; j < len(t); j += 2 {
		sum += uint32(t[j])<<8 | uint32(t[j+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(t[16:], ^uint16(sum))
}

// send writes the first n built probes in as few system calls as the
// platform allows (sendmmsg on Linux).
func (p *synPacket) send(n int, ports []uint16) error {
	// The scope guard again, at the last step before the wire.
	if !p.s.scope.Allows(p.dst) {
		return ErrOutOfScope
	}
	if p.s.sent != nil {
		for _, port := range ports[:n] {
			p.s.sent(p.dst, int(port))
		}
	}
	b := p.cur
	p.cur = nil
	p.s.sendq <- sendJob{p, b, n} // started before any prober runs
	if err := p.err.Load(); err != nil {
		return *err
	}
	return nil
}

// wait returns when no batch of p is with a sender any more.
func (p *synPacket) wait() {
	if p.cur != nil {
		p.free <- p.cur
		p.cur = nil
	}
	for range synBuffers {
		<-p.free
	}
}

// sourceAddr asks the routing table which local address reaches dst. A
// connected UDP socket sends nothing.
func sourceAddr(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}
