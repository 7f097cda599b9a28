package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/node"
)

// runSnapshotRestore fills a node home's chains from another node's
// snapshots, each verified against the home's own genesis.
func runSnapshotRestore(args []string, stdout io.Writer) error {
	fs := newFlags("snapshot restore")
	url := fs.String("url", defaultURL, "API URL of a node that hosts the chains")
	homeDir := fs.String("home", "", "node home directory (from polity init) whose chains to restore")
	chainIDs := fs.String("chains", "", "comma-separated chain IDs (default: every chain the home hosts)")
	timeout := fs.Duration("timeout", 30*time.Minute, "bound on each chain's download")
	auth := addAuthFlags(fs, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *homeDir == "" || *auth.path == "" {
		return usageError{errors.New("-home and -auth-key are required (snapshots need admin for the chain)")}
	}
	home, err := node.LoadHome(*homeDir)
	if err != nil {
		return err
	}
	var want []string
	if *chainIDs != "" {
		want = strings.Split(*chainIDs, ",")
	}
	ak, err := auth.load("")
	if err != nil {
		return err
	}
	c := newClient(*url)
	c.auth = ak
	restored := 0
	for _, spec := range home.Chains {
		g := spec.Genesis
		if len(want) > 0 && !slices.Contains(want, g.ChainID) {
			continue
		}
		h, err := restoreOne(c, home.Dir, g, *timeout)
		if err != nil {
			return fmt.Errorf("chain %s: %w", g.ChainID, err)
		}
		fmt.Fprintf(stdout, "%s: restored at height %d\n", g.ChainID, h)
		restored++
	}
	if restored == 0 {
		return usageError{fmt.Errorf("no chain of %s matches -chains %q", *homeDir, *chainIDs)}
	}
	return nil
}

// restoreOne downloads chain g's snapshot and restores it under home.
func restoreOne(c *client, home string, g *chain.Genesis, timeout time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// The stream can outlast the client's usual timeout; ctx bounds it.
	resp, err := c.send(ctx, &http.Client{}, http.MethodPost, "/v1/chains/"+g.ChainID+"/snapshot", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return node.RestoreChain(home, g, resp.Body)
}
