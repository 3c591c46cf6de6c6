package scan

import (
	"errors"
	"net/netip"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// synFamily holds the raw sockets of one address family.
type synFamily struct {
	v6       bool
	sendFD   int // IPPROTO_RAW: send only, the IP header is ours
	recvFD   int // IPPROTO_TCP, non-blocking, filtered to our port
	reserved int // bound TCP socket holding the source port
	port     uint16
}

func openSYNFamily(v6 bool) (_ *synFamily, err error) {
	f := &synFamily{v6: v6, sendFD: -1, recvFD: -1, reserved: -1}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	domain := unix.AF_INET
	if v6 {
		domain = unix.AF_INET6
	}
	// Reserve a source port: bind, never listen or connect.
	if f.reserved, err = unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, err
	}
	var sa unix.Sockaddr = &unix.SockaddrInet4{}
	if v6 {
		sa = &unix.SockaddrInet6{}
	}
	if err = unix.Bind(f.reserved, sa); err != nil {
		return nil, err
	}
	bound, err := unix.Getsockname(f.reserved)
	if err != nil {
		return nil, err
	}
	switch a := bound.(type) {
	case *unix.SockaddrInet4:
		f.port = uint16(a.Port)
	case *unix.SockaddrInet6:
		f.port = uint16(a.Port)
	}
	if f.sendFD, err = unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); err != nil {
		return nil, err
	}
	if v6 {
		// IPPROTO_RAW implies IPV6_HDRINCL on Linux ≥ 4.5; ask anyway.
		_ = unix.SetsockoptInt(f.sendFD, unix.IPPROTO_IPV6, unix.IPV6_HDRINCL, 1)
	}
	if f.recvFD, err = unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP); err != nil {
		return nil, err
	}
	// IPv4 raw sockets deliver the IP header, IPv6 ones only the TCP header.
	prog := []bpf.Instruction{bpf.LoadAbsolute{Off: 2, Size: 2}}
	if !v6 {
		prog = []bpf.Instruction{bpf.LoadMemShift{Off: 0}, bpf.LoadIndirect{Off: 2, Size: 2}}
	}
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(f.port), SkipFalse: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0})
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, err
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err = unix.SetsockoptSockFprog(f.recvFD, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
		return nil, err
	}
	// A full sweep answers faster than a reader drains a default-sized
	// buffer; dropped answers would only cost retransmissions.
	if unix.SetsockoptInt(f.recvFD, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		_ = unix.SetsockoptInt(f.recvFD, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	return f, nil
}

func (f *synFamily) close() {
	for _, fd := range []*int{&f.sendFD, &f.recvFD, &f.reserved} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// synBatchBuf is a batch of probes to one host laid out for sendmmsg.
type synBatchBuf struct {
	bufs [synBatch][64]byte
	iov  [synBatch]unix.Iovec
	hdrs [synBatch]unix.Mmsghdr
	sa4  unix.RawSockaddrInet4
	sa6  unix.RawSockaddrInet6
}

func (b *synBatchBuf) init(dst netip.Addr, size int) {
	name, namelen := unsafe.Pointer(&b.sa4), uint32(unix.SizeofSockaddrInet4)
	if dst.Is4() {
		b.sa4.Family = unix.AF_INET
		b.sa4.Addr = dst.As4()
	} else {
		b.sa6.Family = unix.AF_INET6
		b.sa6.Addr = dst.As16()
		name, namelen = unsafe.Pointer(&b.sa6), uint32(unix.SizeofSockaddrInet6)
	}
	for i := range b.hdrs {
		b.iov[i].Base = &b.bufs[i][0]
		b.iov[i].SetLen(size)
		b.hdrs[i].Hdr.Name = (*byte)(name)
		b.hdrs[i].Hdr.Namelen = namelen
		b.hdrs[i].Hdr.Iov = &b.iov[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
}

func (b *synBatchBuf) packet(i int) []byte { return b.bufs[i][:b.iov[i].Len] }

// sendBatch sends the first n packets of b.
func (f *synFamily) sendBatch(b *synBatchBuf, n int) error {
	for sent, stalls := 0, 0; sent < n; {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(f.sendFD), uintptr(unsafe.Pointer(&b.hdrs[sent])),
			uintptr(n-sent), 0, 0, 0)
		switch {
		case errno == 0:
			sent += int(r)
		case errno == unix.EINTR:
		case (errno == unix.ENOBUFS || errno == unix.EAGAIN) && stalls < 1000:
			// A full transmit queue drains in microseconds; a second of
			// stalls means the link is gone.
			stalls++
			time.Sleep(time.Millisecond)
		default:
			return errno
		}
	}
	return nil
}

// receive reads answers until Close.
func (s *synSocket) receive(f *synFamily) {
	const batch = 64
	var (
		bufs  [batch][128]byte
		iov   [batch]unix.Iovec
		names [batch]unix.RawSockaddrInet6
		hdrs  [batch]unix.Mmsghdr
		tcp   layers.TCP
	)
	for i := range hdrs {
		iov[i].Base = &bufs[i][0]
		iov[i].SetLen(len(bufs[i]))
		hdrs[i].Hdr.Iov = &iov[i]
		hdrs[i].Hdr.SetIovlen(1)
		if f.v6 {
			hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
		}
	}
	pause := minPollPause
	for !s.closed.Load() {
		for i := range hdrs {
			hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(f.recvFD), uintptr(unsafe.Pointer(&hdrs[0])), batch,
			unix.MSG_DONTWAIT, 0, 0)
		if errno != 0 {
			if errno != unix.EAGAIN && errno != unix.EINTR && !errors.Is(errno, unix.ENOBUFS) {
				return
			}
			time.Sleep(pause)
			pause = min(2*pause, maxPollPause)
			continue
		}
		pause = minPollPause
		at := time.Now()
		for i := 0; i < int(r); i++ {
			b := bufs[i][:hdrs[i].Len]
			var src netip.Addr
			if f.v6 {
				src = netip.AddrFrom16(names[i].Addr)
			} else {
				if len(b) < 20 {
					continue
				}
				src = netip.AddrFrom4([4]byte(b[12:16]))
				b = b[int(b[0]&0x0f)*4:]
			}
			s.dispatch(f, src, b, at, &tcp)
		}
	}
}
