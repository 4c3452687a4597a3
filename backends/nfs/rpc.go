package nfs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/strata-storage/strata/backends"
)

// ONC RPC (RFC 5531) over TCP with record marking. Each connection carries
// one call at a time: a call checks a connection out of the pool, writes
// the request, reads the reply with a deadline, and gives the connection
// back. A connection that saw any transport error is closed, never reused.

const (
	rpcCall  = 0
	rpcReply = 1

	authNone = 0
	authUnix = 1

	maxRecord = 8 << 20 // largest reply accepted (READ replies are <= 1 MiB + headers)
)

var xidCounter atomic.Uint32

func init() { xidCounter.Store(rand.Uint32()) }

// rpcError is a reply that the server sent but that is not a result.
type rpcError struct{ msg string }

func (e *rpcError) Error() string { return "nfs: rpc: " + e.msg }

// conn is one TCP connection to an RPC server.
type conn struct {
	c    net.Conn
	r    *bufio.Reader
	wbuf []byte
	rbuf []byte
}

// dialer opens connections to one server port.
type dialer struct {
	addr     string
	reserved bool // bind a source port below 1024 (servers with "secure")
}

func (d dialer) dial(deadline time.Time) (*conn, error) {
	nd := net.Dialer{Deadline: deadline}
	var c net.Conn
	var err error
	if d.reserved {
		// Try random ports in 600..1023; a port in use or in TIME_WAIT
		// fails with EADDRINUSE and the next is tried.
		for range 32 {
			nd.LocalAddr = &net.TCPAddr{Port: 600 + rand.IntN(424)}
			c, err = nd.Dial("tcp", d.addr)
			if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
				break
			}
		}
	} else {
		c, err = nd.Dial("tcp", d.addr)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(30 * time.Second)
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// call sends one request and returns the result body (after the accepted
// reply header), valid until the next call on c. The arguments are args,
// then payload (the data of a WRITE, sent from where it is, without a copy)
// padded to four bytes.
func (c *conn) call(deadline time.Time, prog, vers, proc uint32, cred, args, payload []byte) ([]byte, error) {
	xid := xidCounter.Add(1)
	e := enc{b: c.wbuf[:0]}
	e.u32(0) // record mark, set below
	e.u32(xid)
	e.u32(rpcCall)
	e.u32(2)
	e.u32(prog)
	e.u32(vers)
	e.u32(proc)
	e.b = append(e.b, cred...)
	e.u32(authNone) // verifier
	e.u32(0)
	e.b = append(e.b, args...)
	pad := (4 - len(payload)%4) % 4
	binary.BigEndian.PutUint32(e.b, uint32(len(e.b)-4+len(payload)+pad)|1<<31)
	c.wbuf = e.b
	if err := c.c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	var err error
	if len(payload) == 0 {
		_, err = c.c.Write(e.b)
	} else {
		var zeros [3]byte
		bufs := net.Buffers{e.b, payload, zeros[:pad]}
		_, err = bufs.WriteTo(c.c)
	}
	if err != nil {
		return nil, err
	}
	for {
		rec, err := c.readRecord()
		if err != nil {
			return nil, err
		}
		d := dec{b: rec}
		if d.u32() != xid {
			continue // a late reply to a call that timed out on this conn cannot happen (conns are closed then), but be safe
		}
		if d.u32() != rpcReply {
			return nil, errShort
		}
		switch d.u32() {
		case 0: // MSG_ACCEPTED
			d.u32()       // verifier flavor
			d.opaque(400) // verifier body
			stat := d.u32()
			if d.err != nil {
				return nil, d.err
			}
			switch stat {
			case 0:
				return d.b, nil
			case 1:
				return nil, &rpcError{fmt.Sprintf("program %d not available", prog)}
			case 2:
				return nil, &rpcError{fmt.Sprintf("program %d version %d not available", prog, vers)}
			case 3:
				return nil, &rpcError{fmt.Sprintf("procedure %d not available", proc)}
			case 4:
				return nil, &rpcError{"server could not decode the arguments"}
			default:
				return nil, &rpcError{"system error on the server"}
			}
		case 1: // MSG_DENIED
			if d.u32() == 1 {
				return nil, &rpcError{fmt.Sprintf("authentication refused (auth_stat %d); check uid/gid and the export's security flavor", d.u32())}
			}
			return nil, &rpcError{"RPC version mismatch"}
		default:
			return nil, errShort
		}
	}
}

func (c *conn) readRecord() ([]byte, error) {
	buf := c.rbuf[:0]
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
			return nil, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		n := int(h &^ (1 << 31))
		if len(buf)+n > maxRecord {
			return nil, errShort
		}
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		if _, err := io.ReadFull(c.r, buf[start:]); err != nil {
			return nil, err
		}
		if h&(1<<31) != 0 {
			c.rbuf = buf
			return buf, nil
		}
	}
}

func (c *conn) close() { c.c.Close() }

// pool holds up to max connections to one server port.
type pool struct {
	name    string // "nfs" or "mount", for errors
	d       dialer
	timeout time.Duration
	sem     chan struct{}

	mu     sync.Mutex
	idle   []*conn
	closed bool

	calls atomic.Int64 // RPCs made, for tests that count round trips
}

func newPool(name string, d dialer, max int, timeout time.Duration) *pool {
	return &pool{name: name, d: d, timeout: timeout, sem: make(chan struct{}, max)}
}

func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// errUnavailable marks errors of the transport (server down, hung,
// unreachable): requests fail with a 503-class error.
func unavailable(what string, err error) error {
	return backends.Wrap(backends.Unavailable, err, "nfs: "+what)
}

// call runs one RPC within the pool's timeout. A transport error is
// retried, with backoff, on a new connection while time remains: always for
// idempotent procedures, and once for the others when the connection had
// been idle (a server restart closes idle connections, and the request
// never reached it). handle reads the result before the connection goes
// back to the pool.
func (p *pool) call(prog, vers, proc uint32, cred, args, payload []byte, idempotent bool, handle func(*dec) error) error {
	p.calls.Add(1)
	deadline := time.Now().Add(p.timeout)
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	select {
	case p.sem <- struct{}{}:
	case <-timer.C:
		return unavailable(p.name+" server", fmt.Errorf("all %d connections busy for %v", cap(p.sem), p.timeout))
	}
	defer func() { <-p.sem }()

	backoff := 20 * time.Millisecond
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			wait := min(backoff, time.Until(deadline))
			if wait <= 0 {
				break
			}
			time.Sleep(wait)
			backoff = min(backoff*2, time.Second)
		}
		if time.Until(deadline) <= 0 {
			break
		}
		c, reused, err := p.get(deadline)
		if err != nil {
			lastErr = err
			if errors.Is(err, net.ErrClosed) {
				break
			}
			continue
		}
		res, err := c.call(deadline, prog, vers, proc, cred, args, payload)
		if err != nil {
			var re *rpcError
			if errors.As(err, &re) {
				p.put(c)
				return re
			}
			c.close()
			lastErr = err
			if idempotent || (reused && attempt == 0) {
				continue
			}
			break
		}
		d := dec{b: res}
		err = handle(&d)
		p.put(c)
		return err
	}
	if lastErr == nil {
		lastErr = os.ErrDeadlineExceeded
	}
	return unavailable(p.name+" server "+p.d.addr+" did not answer within "+p.timeout.String(), lastErr)
}

func (p *pool) get(deadline time.Time) (*conn, bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, net.ErrClosed
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, true, nil
	}
	p.mu.Unlock()
	c, err := p.d.dial(deadline)
	return c, false, err
}

func (p *pool) put(c *conn) {
	if cap(c.rbuf) > 2<<20 {
		c.rbuf = nil
	}
	if cap(c.wbuf) > 2<<20 {
		c.wbuf = nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// authUnixCred encodes an AUTH_UNIX credential (RFC 5531 section 14):
// uid, gid and the gid as the one supplementary group.
func authUnixCred(machine string, uid, gid uint32) []byte {
	var body enc
	body.u32(uint32(time.Now().Unix()))
	body.str(machine)
	body.u32(uid)
	body.u32(gid)
	body.u32(1)
	body.u32(gid)
	var e enc
	e.u32(authUnix)
	e.opaque(body.b)
	return e.b
}

// getPort asks the portmapper (RFC 1833, version 2) on host:111 for the TCP
// port of prog/vers.
func getPort(host string, prog, vers uint32, timeout time.Duration) (int, error) {
	p := newPool("portmapper", dialer{addr: net.JoinHostPort(host, "111")}, 1, timeout)
	defer p.close()
	var a enc
	a.u32(prog)
	a.u32(vers)
	a.u32(6) // IPPROTO_TCP
	a.u32(0)
	var port uint32
	var none enc
	none.u32(authNone)
	none.u32(0)
	err := p.call(100000, 2, 3, none.b, a.b, nil, true, func(d *dec) error {
		port = d.u32()
		return d.err
	})
	if err != nil {
		return 0, err
	}
	if port == 0 {
		return 0, fmt.Errorf("nfs: the portmapper on %s knows no TCP service for program %d version %d", host, prog, vers)
	}
	return int(port), nil
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
