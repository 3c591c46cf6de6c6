package testbed

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// NetnsPrefix is the network of namespace testbeds: TEST-NET-2 (RFC 5737),
// which is never routed, inside namespaces that have no route out anyway.
var NetnsPrefix = netip.MustParsePrefix("198.51.100.0/24")

// Netns is a private network of Linux network namespaces: a scanner
// namespace holding a bridge (198.51.100.1) and host namespaces joined to it
// by veth pairs (198.51.100.10, .11, ...). No namespace has a default route
// or any link but these, so nothing sent inside can leave the machine. Run
// the scanning side with Command, inside the scanner namespace.
type Netns struct {
	Scanner string       // namespace of the scanning side
	Bridge  netip.Addr   // the scanner namespace's own address
	Up      []netip.Addr // host namespaces: answer ICMP echo, reset closed TCP ports
	Down    []netip.Addr // addresses in the prefix that nothing holds
	spaces  []string
}

// StartNetns builds the network with n host namespaces. Call Stop.
func StartNetns(ctx context.Context, n int) (_ *Netns, err error) {
	tag := fmt.Sprintf("vigil%d", os.Getpid())
	nt := &Netns{Scanner: tag + "-scan", Bridge: netip.MustParseAddr("198.51.100.1")}
	defer func() {
		if err != nil {
			nt.Stop()
		}
	}()
	run := func(args ...string) error {
		out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("netns", "add", nt.Scanner); err != nil {
		return nil, err
	}
	nt.spaces = append(nt.spaces, nt.Scanner)
	for _, args := range [][]string{
		{"-n", nt.Scanner, "link", "set", "lo", "up"},
		{"-n", nt.Scanner, "link", "add", "br0", "type", "bridge"},
		{"-n", nt.Scanner, "addr", "add", nt.Bridge.String() + "/24", "dev", "br0"},
		{"-n", nt.Scanner, "link", "set", "br0", "up"},
	} {
		if err := run(args...); err != nil {
			return nil, err
		}
	}
	for i := range n {
		host := fmt.Sprintf("%s-h%d", tag, i)
		addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
		if err := run("netns", "add", host); err != nil {
			return nil, err
		}
		nt.spaces = append(nt.spaces, host)
		port := fmt.Sprintf("vh%d", i)
		for _, args := range [][]string{
			{"-n", host, "link", "set", "lo", "up"},
			{"-n", nt.Scanner, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host},
			{"-n", nt.Scanner, "link", "set", port, "master", "br0"},
			{"-n", nt.Scanner, "link", "set", port, "up"},
			{"-n", host, "addr", "add", addr.String() + "/24", "dev", "eth0"},
			{"-n", host, "link", "set", "eth0", "up"},
		} {
			if err := run(args...); err != nil {
				return nil, err
			}
		}
		nt.Up = append(nt.Up, addr)
	}
	nt.Down = []netip.Addr{netip.MustParseAddr("198.51.100.200"), netip.MustParseAddr("198.51.100.201")}
	return nt, nil
}

// Command runs name inside the scanner namespace.
func (nt *Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nt.Scanner, name}, args...)...)
}

// HostCommand runs name inside host namespace i (to start a service there).
func (nt *Netns) HostCommand(ctx context.Context, i int, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nt.spaces[1+i], name}, args...)...)
}

// Stop deletes the namespaces; their links go with them.
func (nt *Netns) Stop() {
	for _, ns := range nt.spaces {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	nt.spaces = nil
}
