package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/polityledger/polity/node"
)

func runInit(args []string, stdout io.Writer) error {
	fs := newFlags("init")
	n := fs.Int("validators", 4, "number of validator nodes")
	out := fs.String("out", "./testnet", "output directory")
	host := fs.String("host", "127.0.0.1", "address the nodes listen on")
	base := fs.Int("base-port", 26600, "first port (node k: P2P base+2k, API base+2k+1); 0 picks free ports")
	hosts := fs.String("hosts", "", "comma-separated host name per node (e.g. container names); overrides -host")
	cft := fs.String("cft", "", "comma-separated chains ordered by Raft (crash faults only) instead of BFT, e.g. health")
	followers := fs.Int("followers", 0, "number of follower nodes: they host every chain, validate none, and can be added by governance (polity valset)")
	retain := fs.Uint64("retain-blocks", 0, "blocks each node keeps per chain (0: all; else at least 16; a node further behind catches up by state sync)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o := node.InitOptions{Validators: *n, Followers: *followers, Out: *out, Host: *host, BasePort: *base, Now: time.Now(), RetainBlocks: *retain}
	if *hosts != "" {
		o.Hosts = strings.Split(*hosts, ",")
	}
	if *cft != "" {
		o.CFT = strings.Split(*cft, ",")
	}
	entries, err := node.InitNetwork(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d node homes and %s/network.json\n", len(entries), *out)
	for _, e := range entries {
		fmt.Fprintf(stdout, "  %-8s p2p %-21s api %-21s polity node --home %s\n", e.ID, e.P2P, e.HTTP, e.Home)
	}
	return nil
}

func runNode(args []string, stdout io.Writer) error {
	fs := newFlags("node")
	homeDir := fs.String("home", "", "node home directory (from polity init)")
	httpAddr := fs.String("http", "", "API listen address (default: from node.json)")
	level := fs.String("log", "info", "log level: debug, info, warn, error")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback address (e.g. 127.0.0.1:6061)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *homeDir == "" {
		return usageError{errors.New("-home is required")}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(*level))); err != nil {
		return usageError{err}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	if err := startPprof(*pprofAddr, log); err != nil {
		return usageError{err}
	}
	home, err := node.LoadHome(*homeDir)
	if err != nil {
		return err
	}
	api := home.Config.HTTP
	if *httpAddr != "" {
		api = *httpAddr
	}
	if api == "" {
		return usageError{errors.New("no API address: set http in node.json or pass -http")}
	}
	r, err := startNode(home, api, log)
	if err != nil {
		return err
	}
	// A node alone cannot order BFT chains: report readiness when a leader
	// is known, but serve meanwhile (reads work, writes get 503).
	go func() {
		if r.n.WaitReady(context.Background()) == nil {
			fmt.Fprintf(stdout, "polity node %s: ordering\n", home.Config.ID)
		}
	}()
	fmt.Fprintf(stdout, "polity node %s: %d chains, p2p %s, API on http://%s\n", home.Config.ID, len(r.n.Chains()), home.Config.P2P, r.ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-r.exited():
	}
	if err := r.stop(); runErr == nil {
		runErr = err
	}
	return runErr
}
