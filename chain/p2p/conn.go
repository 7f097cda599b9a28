package p2p

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// conn is an authenticated connection to a peer: one reader and one writer
// goroutine.
type conn struct {
	t   *Transport
	p   *peer
	tc  *tls.Conn
	raw net.Conn

	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{} // closed once both goroutines have exited
}

// close tears the connection down. It closes the TCP connection directly
// rather than sending a TLS close_notify, which could block for a peer
// that has stopped reading.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.raw.Close()
	})
}

func (c *conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// install makes tc p's connection, replacing (and waiting out) any previous
// one, and starts its goroutines. It returns nil if the transport is closing.
func (t *Transport) install(p *peer, tc *tls.Conn, raw net.Conn) *conn {
	c := &conn{t: t, p: p, tc: tc, raw: raw, closing: make(chan struct{}), done: make(chan struct{})}
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if t.ctx.Err() != nil {
		raw.Close()
		return nil
	}
	p.mu.Lock()
	old := p.cur
	p.mu.Unlock()
	if old != nil {
		t.log.Info("p2p replacing connection", "peer", p.ID)
		old.close()
		<-old.done
	}
	p.mu.Lock()
	p.cur = c
	p.mu.Unlock()
	p.connects.Add(1)
	t.log.Info("p2p connected", "peer", p.ID, "remote", raw.RemoteAddr().String())

	var g sync.WaitGroup
	g.Add(2)
	t.wg.Add(3)
	go func() {
		defer t.wg.Done()
		defer g.Done()
		c.readLoop()
	}()
	go func() {
		defer t.wg.Done()
		defer g.Done()
		c.writeLoop()
	}()
	go func() {
		defer t.wg.Done()
		g.Wait()
		p.mu.Lock()
		if p.cur == c {
			p.cur = nil
		}
		p.mu.Unlock()
		close(c.done)
		t.log.Info("p2p disconnected", "peer", p.ID)
	}()
	return c
}

// readLoop reads frames and dispatches them until the connection fails.
func (c *conn) readLoop() {
	defer c.close()
	br := bufio.NewReaderSize(c.tc, ioBufferSize)
	for {
		chainID, payload, err := readFrame(br)
		if err != nil {
			switch {
			case errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrBadFrame):
				c.t.log.Warn("p2p protocol violation; closing connection", "peer", c.p.ID, "err", err)
			case !c.isClosing():
				c.t.log.Debug("p2p read failed", "peer", c.p.ID, "err", err)
			}
			return
		}
		c.p.received.Add(1)
		c.t.dispatch(c.p, chainID, payload)
	}
}

// writeLoop drains the peer's outbound queue into the connection until it
// fails or closes. It flushes whenever the queue is empty.
func (c *conn) writeLoop() {
	defer c.close()
	bw := bufio.NewWriterSize(c.tc, ioBufferSize)
	var hdr [maxHeader]byte
	for {
		var m outMsg
		select {
		case <-c.closing:
			return
		case <-c.t.ctx.Done():
			return
		case m = <-c.p.out:
		}
		c.p.outBytes.Add(-int64(len(m.msg)))
		err := c.tc.SetWriteDeadline(time.Now().Add(writeTimeout(len(m.msg))))
		if err == nil {
			_, err = bw.Write(appendFrameHeader(hdr[:0], m.chain, len(m.msg)))
		}
		if err == nil {
			_, err = bw.Write(m.msg)
		}
		if err == nil && len(c.p.out) == 0 {
			err = bw.Flush()
		}
		if err != nil {
			c.p.dropped.Add(1)
			if !c.isClosing() {
				c.t.log.Debug("p2p write failed", "peer", c.p.ID, "err", err)
			}
			return
		}
		c.p.sent.Add(1)
	}
}

// writeTimeout bounds writing (and flushing) one frame of n payload bytes.
func writeTimeout(n int) time.Duration {
	return writeTimeoutBase + time.Duration(n>>20)*time.Second
}
