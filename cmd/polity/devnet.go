package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/polityledger/polity/node"
)

func runDevnet(args []string, stdout io.Writer) error {
	fs := newFlags("devnet")
	data := fs.String("data", "./data", "data directory")
	addr := fs.String("http", "127.0.0.1:8080", "node1's API listen address (other nodes: see network.json)")
	reset := fs.Bool("reset", false, "delete the data directory first and start clean")
	validators := fs.Int("validators", 4, "BFT validators per chain (on first start)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback address (e.g. 127.0.0.1:6060)")
	cft := fs.String("cft", "", "comma-separated chains ordered by Raft instead of BFT (on first start), e.g. health")
	retain := fs.Uint64("retain-blocks", 0, "blocks each node keeps per chain (on first start; 0: all, else at least 16)")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := startPprof(*pprofAddr, log); err != nil {
		return usageError{err}
	}
	if *reset {
		if err := os.RemoveAll(*data); err != nil {
			return err
		}
	}
	netFile := filepath.Join(*data, "network.json")
	if _, err := os.Stat(netFile); errors.Is(err, os.ErrNotExist) {
		o := node.InitOptions{Validators: *validators, Out: *data, Now: time.Now(), RetainBlocks: *retain}
		if *cft != "" {
			o.CFT = strings.Split(*cft, ",")
		}
		if _, err := node.InitNetwork(o); err != nil {
			return err
		}
	}
	entries, err := node.LoadNetwork(netFile)
	if err != nil {
		return err
	}
	var nodes []*running
	stopAll := func() error {
		var first error
		for i := len(nodes) - 1; i >= 0; i-- {
			if err := nodes[i].stop(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	for i, e := range entries {
		home, err := node.LoadHome(e.Home)
		if err != nil {
			stopAll()
			return err
		}
		api := e.HTTP // every node serves its API; node1 on -http
		if i == 0 {
			api = *addr
		}
		r, err := startNode(home, api, log)
		if err != nil {
			stopAll()
			return fmt.Errorf("%s: %w", e.ID, err)
		}
		nodes = append(nodes, r)
	}
	ctxReady, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, r := range nodes {
		if err := r.n.WaitReady(ctxReady); err != nil {
			stopAll()
			return fmt.Errorf("%s: %w", r.id, err)
		}
	}
	first := nodes[0]
	fmt.Fprintf(stdout, "polity devnet: %d nodes × %d chains, API on http://%s (data in %s); Ctrl-C stops\n", len(nodes), len(first.n.Chains()), first.ln.Addr(), *data)
	fmt.Fprintf(stdout, "  operator key (identity-chain admin): %s\n", filepath.Join(*data, node.OperatorKeyFile))
	for _, r := range nodes[1:] {
		fmt.Fprintf(stdout, "  %s API on http://%s\n", r.id, r.ln.Addr())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-anyExited(nodes):
	}
	log.Info("shutting down")
	if err := stopAll(); runErr == nil {
		runErr = err
	}
	return runErr
}

// anyExited yields the first node that stops by itself.
func anyExited(nodes []*running) <-chan error {
	out := make(chan error, len(nodes))
	for _, r := range nodes {
		go func() { out <- <-r.exited() }()
	}
	return out
}
