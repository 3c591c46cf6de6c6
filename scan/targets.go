package scan

import (
	"context"
	"iter"
	"net/netip"
	"strings"

	"go4.org/netipx"

	"github.com/vigilscan/vigil"
)

// target is one host to scan.
type target struct {
	addr     netip.Addr
	hostname string
}

// targetSet is the parsed hosts minus exclusions. Addresses are produced
// lazily, so a /16 costs no memory up front.
type targetSet struct {
	ranges    []netipx.IPRange
	exclude   *netipx.IPSet
	hostnames []string
	excluded  map[string]bool
	count     int64
}

func parseTargets(hosts, exclude string) (*targetSet, error) {
	hs, err := vigil.ParseHostSpec(hosts)
	if err != nil {
		return nil, err
	}
	xs, err := vigil.ParseHostSpec(exclude)
	if err != nil {
		return nil, err
	}
	ts := &targetSet{ranges: hs.AddressSet(xs).Ranges(), exclude: xs.AddressSet(vigil.HostSpec{}),
		excluded: map[string]bool{}, count: hs.Count(xs)}
	for _, h := range xs.Hostnames {
		ts.excluded[h] = true
	}
	seen := map[string]bool{}
	for _, h := range hs.Hostnames {
		if !ts.excluded[h] && !seen[h] {
			seen[h] = true
			ts.hostnames = append(ts.hostnames, h)
		}
	}
	return ts, nil
}

// all yields every target: addresses in order, then resolved hostnames. A
// hostname that does not resolve, or resolves into the exclusions, is
// reported through onError and skipped.
func (ts *targetSet) all(ctx context.Context, r Resolver, onError func(host, msg string)) iter.Seq[target] {
	return func(yield func(target) bool) {
		for _, rg := range ts.ranges {
			for a := rg.From(); ; a = a.Next() {
				if ctx.Err() != nil || !yield(target{addr: a}) {
					return
				}
				if a == rg.To() {
					break
				}
			}
		}
		for _, h := range ts.hostnames {
			if ctx.Err() != nil {
				return
			}
			addrs, err := r.LookupNetIP(ctx, "ip", h)
			if err != nil || len(addrs) == 0 {
				onError(h, "cannot resolve "+h)
				continue
			}
			a := preferV4(addrs)
			if ts.exclude.Contains(a) {
				onError(h, h+" resolves to excluded address "+a.String())
				continue
			}
			if !yield(target{addr: a, hostname: strings.TrimSuffix(h, ".")}) {
				return
			}
		}
	}
}

// preferV4 picks the first IPv4 address, as scanners conventionally do.
func preferV4(addrs []netip.Addr) netip.Addr {
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap()
		}
	}
	return addrs[0]
}
