package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/polityledger/polity/chain/p2p"
	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/node/aggregation"
	"github.com/polityledger/polity/services"
)

// running is one node started from its home: transport, chains and API.
type running struct {
	id    string
	n     *node.Node
	tr    *p2p.Transport
	srv   *http.Server
	ln    net.Listener
	stopN context.CancelFunc
	// done closes when the engines stop; err is then their error.
	done chan struct{}
	err  error
	// failed receives an API server failure.
	failed chan error
	// aggDone closes when the aggregation driver stops (nil: none runs).
	aggDone chan struct{}
}

// exited returns a channel that yields when the node stops by itself (an
// engine or the API server failed).
func (r *running) exited() <-chan error {
	out := make(chan error, 1)
	go func() {
		select {
		case <-r.done:
			out <- fmt.Errorf("%s: engines stopped: %v", r.id, r.err)
		case err := <-r.failed:
			out <- fmt.Errorf("%s: API server: %w", r.id, err)
		}
	}()
	return out
}

// startNode opens the node in home, connects it to its peers and serves its
// API on httpAddr (empty: no API). Stop with stop().
func startNode(home *node.Home, httpAddr string, log *slog.Logger) (*running, error) {
	r := &running{id: home.Config.ID, done: make(chan struct{}), failed: make(chan error, 1)}
	peers := make([]p2p.Peer, 0, len(home.Config.Peers))
	var ids []string
	for _, p := range home.Config.Peers {
		ids = append(ids, p.ID)
		k, err := p.Key()
		if err != nil {
			return nil, err
		}
		peers = append(peers, p2p.Peer{ID: p.ID, Addr: p.Addr, PubKey: k})
	}
	tr, err := p2p.New(p2p.Config{ID: home.Config.ID, Key: home.NodeKey, Listen: home.Config.P2P, Peers: peers, Logger: log})
	if err != nil {
		return nil, err
	}
	r.tr = tr
	n, err := node.Open(node.Config{DataDir: home.Dir, Chains: home.Chains, Logger: log.With("node", home.Config.ID), NodeID: home.Config.ID, Mesh: tr, Peers: ids, RetainBlocks: home.Config.RetainBlocks})
	if err != nil {
		return nil, err
	}
	r.n = n
	ctx, cancel := context.WithCancel(context.Background())
	r.stopN = cancel
	if err := tr.Start(ctx); err != nil {
		cancel()
		n.Close()
		return nil, fmt.Errorf("p2p: %w", err)
	}
	go func() {
		r.err = n.Run(ctx)
		close(r.done)
	}()
	var opts []services.Option
	if d := startAggregation(home, n, tr, log); d != nil {
		r.aggDone = make(chan struct{})
		go func() {
			if err := d.Run(ctx); err != nil {
				log.Error("aggregation driver stopped", "node", home.Config.ID, "err", err)
			}
			close(r.aggDone)
		}()
		opts = append(opts, services.WithAggregation(d))
	}
	if httpAddr != "" {
		h, err := services.New(n, log.With("node", home.Config.ID), opts...)
		if err != nil {
			r.stop()
			return nil, err
		}
		ln, err := net.Listen("tcp", httpAddr)
		if err != nil {
			r.stop()
			return nil, err
		}
		r.ln = ln
		r.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 90 * time.Second, MaxHeaderBytes: 64 << 10}
		go func() {
			if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.failed <- err
			}
		}()
	}
	return r, nil
}

// startAggregation makes the node's aggregation driver for the chain that
// runs the aggregate module (the governance chain), or returns nil if the
// node hosts none. Its state file is <home>/aggregation.json.
func startAggregation(home *node.Home, n *node.Node, tr *p2p.Transport, log *slog.Logger) *aggregation.Driver {
	if _, err := n.Chain(aggregation.Channel); err == nil {
		log.Error("a chain uses the aggregation channel's reserved ID; aggregation driver not started", "chain", aggregation.Channel)
		return nil
	}
	for _, rep := range n.Chains() {
		if !slices.Contains(rep.Genesis().Modules, aggregate.Name) {
			continue
		}
		peers := make([]aggregation.Peer, 0, len(home.Config.Peers))
		for _, p := range home.Config.Peers {
			k, err := p.Key()
			if err != nil {
				continue // LoadHome checked every key
			}
			peers = append(peers, aggregation.Peer{ID: p.ID, PubKey: k})
		}
		d, err := aggregation.New(aggregation.Config{
			Chain: rep, NodeID: home.Config.ID, Key: home.Key, Peers: peers, Mesh: tr,
			StateFile: filepath.Join(home.Dir, "aggregation.json"), Logger: log.With("node", home.Config.ID),
		})
		if err != nil {
			log.Warn("aggregation driver not started", "node", home.Config.ID, "err", err)
			return nil
		}
		return d
	}
	return nil
}

// stop shuts the API, then the engines (each finishes its current block),
// then the transport and the ledgers. It returns the first engine error.
func (r *running) stop() error {
	if r.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = r.srv.Shutdown(ctx)
		cancel()
	}
	r.stopN()
	var err error
	select {
	case <-r.done:
		err = r.err
	case <-time.After(30 * time.Second):
		err = errors.New("engines did not stop within 30s")
	}
	if r.aggDone != nil {
		<-r.aggDone // it reads the ledgers Close releases
	}
	r.tr.Close()
	if cerr := r.n.Close(); err == nil {
		err = cerr
	}
	return err
}
