//go:build !linux

package scan

import (
	"errors"
	"net/netip"
)

// synFamily is unavailable: raw SYN scanning is implemented for Linux.
type synFamily struct {
	v6   bool
	port uint16
}

type synBatchBuf struct{ bufs [synBatch][64]byte }

func openSYNFamily(bool) (*synFamily, error) {
	return nil, errors.New("raw SYN scanning is implemented for Linux only")
}

func (f *synFamily) close()                            {}
func (b *synBatchBuf) init(netip.Addr, int)            {}
func (b *synBatchBuf) packet(i int) []byte             { return b.bufs[i][:] }
func (f *synFamily) sendBatch(*synBatchBuf, int) error { return errors.ErrUnsupported }
func (s *synSocket) receive(*synFamily)                {}
