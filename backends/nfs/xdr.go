package nfs

import (
	"encoding/binary"
	"errors"
)

// A small XDR (RFC 4506) encoder and decoder over byte slices. The calls
// here are few and fixed, so building them by hand keeps every byte on the
// wire visible and costs no reflection on the data path.

type enc struct{ b []byte }

func (e *enc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) bool(v bool) {
	if v {
		e.u32(1)
	} else {
		e.u32(0)
	}
}

// opaque writes variable-length opaque data (also strings).
func (e *enc) opaque(p []byte) {
	e.u32(uint32(len(p)))
	e.fixed(p)
}

func (e *enc) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
	e.pad(len(s))
}

// fixed writes fixed-length opaque data.
func (e *enc) fixed(p []byte) {
	e.b = append(e.b, p...)
	e.pad(len(p))
}

func (e *enc) pad(n int) {
	for ; n%4 != 0; n++ {
		e.b = append(e.b, 0)
	}
}

var errShort = errors.New("nfs: short or malformed XDR reply")

type dec struct {
	b   []byte
	err error
}

func (d *dec) u32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *dec) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *dec) bool() bool { return d.u32() != 0 }

// fixed returns n bytes (padded to 4) without copying.
func (d *dec) fixed(n int) []byte {
	p := n + (4-n%4)%4
	if d.err != nil || n < 0 || len(d.b) < p {
		d.err = errShort
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[p:]
	return v
}

// opaque returns variable-length data of at most max bytes, without copying.
func (d *dec) opaque(max int) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		d.err = errShort
		return nil
	}
	return d.fixed(int(n))
}

func (d *dec) skip(n int) { d.fixed(n) }
