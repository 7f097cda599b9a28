package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/services"
)

func runDevnet(args []string, stdout io.Writer) error {
	fs := newFlags("devnet")
	data := fs.String("data", "./data", "data directory")
	addr := fs.String("http", "127.0.0.1:8080", "API listen address")
	reset := fs.Bool("reset", false, "delete the data directory first and start clean")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *reset {
		if err := os.RemoveAll(*data); err != nil {
			return err
		}
	}
	specs, err := node.Devnet(*data, time.Now())
	if err != nil {
		return err
	}
	n, err := node.Open(node.Config{DataDir: *data, Chains: specs, Logger: log})
	if err != nil {
		return err
	}
	defer n.Close()
	h, err := services.New(n, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 90 * time.Second, MaxHeaderBytes: 64 << 10}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 2)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() { errc <- n.Run(runCtx) }()
	for _, r := range n.Chains() {
		log.Info("chain ready", "chain", r.Genesis().ChainID, "kind", r.Genesis().Kind, "height", r.Ledger().Height())
	}
	fmt.Fprintf(stdout, "polity devnet: %d chains, API on http://%s (data in %s); Ctrl-C stops\n", len(n.Chains()), ln.Addr(), *data)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	cancelRun()
	if runErr == nil {
		runErr = <-errc // wait for the engines to finish their current block
	}
	return runErr
}
