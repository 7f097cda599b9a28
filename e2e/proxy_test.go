//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// link is the proxy of the directed link from → to: it listens on its own
// port, and each connection it accepts is forwarded to to's P2P address.
// The p2p transport has the node with the smaller ID dial, so only the
// links from a smaller to a greater ID carry connections; cutting a node
// off cuts both directions.
type link struct {
	from, to int
	target   string
	ln       net.Listener

	mu     sync.Mutex
	cut    bool
	closed bool
	conns  map[net.Conn]struct{}
}

func newLink(from, to int, target string, taken map[string]bool) (*link, error) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		if taken[ln.Addr().String()] { // a port `polity init` chose for a node
			defer ln.Close()
			continue
		}
		taken[ln.Addr().String()] = true
		l := &link{from: from, to: to, target: target, ln: ln, conns: map[net.Conn]struct{}{}}
		go l.serve()
		return l, nil
	}
	return nil, fmt.Errorf("no free port for link %d→%d", from, to)
}

func (l *link) addr() string { return l.ln.Addr().String() }

func (l *link) serve() {
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		refuse := l.cut || l.closed
		l.mu.Unlock()
		if refuse {
			abort(in)
			continue
		}
		go l.pipe(in)
	}
}

func (l *link) pipe(in net.Conn) {
	out, err := net.DialTimeout("tcp", l.target, 2*time.Second)
	if err != nil {
		abort(in)
		return
	}
	l.mu.Lock()
	if l.cut || l.closed {
		l.mu.Unlock()
		abort(in)
		abort(out)
		return
	}
	l.conns[in], l.conns[out] = struct{}{}, struct{}{}
	l.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(out, in); done <- struct{}{} }()
	go func() { io.Copy(in, out); done <- struct{}{} }()
	<-done
	in.Close()
	out.Close()
	<-done
	l.mu.Lock()
	delete(l.conns, in)
	delete(l.conns, out)
	l.mu.Unlock()
}

// abort closes a connection with a reset, as a cut cable would look to the
// side that next writes.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// setCut cuts the link (closing its connections and refusing new ones) or
// heals it.
func (l *link) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for c := range l.conns {
			abort(c)
		}
		clear(l.conns)
	}
}

func (l *link) close() {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		abort(c)
	}
	clear(l.conns)
	l.mu.Unlock()
	l.ln.Close()
}

// cutBetween cuts (or heals) every link between a node of a and a node of b,
// both directions.
func (c *cluster) cutBetween(a, b []int, cut bool) {
	for _, i := range a {
		for _, j := range b {
			if i != j {
				c.links[[2]int{i, j}].setCut(cut)
				c.links[[2]int{j, i}].setCut(cut)
			}
		}
	}
}

// isolate cuts (or heals) every link of node i.
func (c *cluster) isolate(i int, cut bool) {
	c.cutBetween([]int{i}, c.all(), cut)
	verb := "isolated"
	if !cut {
		verb = "healed links of"
	}
	c.logf("%s %s", verb, c.nodes[i].id)
}

func (c *cluster) all() []int {
	out := make([]int, 0, len(c.nodes))
	for i := range c.nodes {
		if !c.retired[i] {
			out = append(out, i)
		}
	}
	return out
}

func (c *cluster) ids(idx []int) string {
	var s []string
	for _, i := range idx {
		s = append(s, c.nodes[i].id)
	}
	return "{" + strings.Join(s, ",") + "}"
}
