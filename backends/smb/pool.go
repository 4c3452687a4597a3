package smb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	smb2 "github.com/cloudsoda/go-smb2"
)

// conn is one TCP connection with its SMB session and tree connection.
// Requests from many goroutines share it (SMB2 multiplexes them by message
// id and credits).
type conn struct {
	nc    net.Conn
	sess  *smb2.Session
	share *smb2.Share
	dead  atomic.Bool
}

// kill closes the connection: every request on it fails at once, and the
// pool dials a new one for the next request.
func (c *conn) kill() {
	c.dead.Store(true)
	c.nc.Close()
}

// watchedConn marks its conn dead as soon as a read or write fails: when the
// server restarts, the library's reader goroutine sees EOF at once, so the
// next request goes to a new connection instead of failing.
type watchedConn struct {
	net.Conn
	c *conn
}

func (w *watchedConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if err != nil {
		w.c.dead.Store(true)
	}
	return n, err
}

func (w *watchedConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if err != nil {
		w.c.dead.Store(true)
	}
	return n, err
}

// pool holds up to cfg.MaxConns connections, used round-robin. A slot whose
// connection died is dialled again, with exponential backoff between failed
// attempts.
type pool struct {
	cfg    Config
	slots  []*slot
	next   atomic.Uint32
	closed atomic.Bool
}

type slot struct {
	sem      chan struct{} // a lock that a context can give up waiting for
	c        *conn
	failures int
	retryAt  time.Time
	lastErr  error
}

func newPool(cfg Config) *pool {
	p := &pool{cfg: cfg}
	for range cfg.MaxConns {
		p.slots = append(p.slots, &slot{sem: make(chan struct{}, 1)})
	}
	return p
}

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// get returns a live connection, dialling (and retrying with backoff while
// ctx lasts) if needed.
func (p *pool) get(ctx context.Context) (*conn, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	s := p.slots[int(p.next.Add(1))%len(p.slots)]
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a connection: %w", ctx.Err())
	}
	defer func() { <-s.sem }()
	for {
		if s.c != nil && !s.c.dead.Load() {
			return s.c, nil
		}
		if s.c != nil {
			s.c.kill()
			s.c = nil
		}
		if wait := time.Until(s.retryAt); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), s.lastErr)
			}
		}
		c, err := p.dial(ctx)
		if err == nil {
			s.c, s.failures, s.lastErr = c, 0, nil
			return c, nil
		}
		s.failures++
		s.lastErr = err
		s.retryAt = time.Now().Add(min(minBackoff<<min(s.failures-1, 10), maxBackoff))
		var re *smb2.ResponseError
		if errors.As(err, &re) || ctx.Err() != nil || p.closed.Load() {
			// The server answered with a refusal (bad password, no such
			// share): trying again will not help.
			return nil, err
		}
	}
}

// dial opens a connection: TCP, negotiate (signing as configured, encryption
// when the server asks), NTLM session setup, tree connect.
func (p *pool) dial(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(p.cfg.Host, strconv.Itoa(p.cfg.Port))
	nd := net.Dialer{KeepAlive: 30 * time.Second}
	tc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{}
	c.nc = &watchedConn{Conn: tc, c: c}
	// The library honours ctx while it waits for replies; closing the
	// socket also ends a negotiation with a server that never answers.
	stop := context.AfterFunc(ctx, func() { tc.Close() })
	defer stop()
	d := &smb2.Dialer{
		Negotiator: smb2.Negotiator{RequireMessageSigning: p.cfg.RequireSigning},
		Initiator: &smb2.NTLMInitiator{
			User:     p.cfg.User,
			Password: p.cfg.Password,
			Domain:   p.cfg.Domain,
		},
	}
	sess, err := d.DialConn(ctx, c.nc, p.cfg.Host)
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("session setup with %s: %w", addr, err)
	}
	share, err := sess.WithContext(ctx).Mount(p.cfg.Share)
	if err != nil {
		sess.WithContext(ctx).Logoff()
		tc.Close()
		return nil, fmt.Errorf("connecting to share %q on %s: %w", p.cfg.Share, addr, err)
	}
	if !stop() {
		tc.Close()
		return nil, fmt.Errorf("connecting to %s: %w", addr, ctx.Err())
	}
	c.sess, c.share = sess, share
	return c, nil
}

func (p *pool) close() error {
	if p.closed.Swap(true) {
		return nil
	}
	for _, s := range p.slots {
		s.sem <- struct{}{}
		if c := s.c; c != nil && !c.dead.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.share.WithContext(ctx).Umount()
			c.sess.WithContext(ctx).Logoff()
			cancel()
		}
		if s.c != nil {
			s.c.kill()
			s.c = nil
		}
		<-s.sem
	}
	return nil
}

var errClosed = errors.New("smb: the backend is closed")
