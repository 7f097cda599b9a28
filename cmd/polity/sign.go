package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/openapi"
)

// signNext builds chainID's mod.method(args as JSON) at k's next nonce,
// which it asks the node for, and signs it with k.
func signNext(ctx context.Context, c *client, k *key, chainID, mod, method string, args any) (*chain.Tx, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	var acct openapi.Account
	if _, err := c.do(ctx, "GET", "/v1/chains/"+url.PathEscape(chainID)+"/accounts/"+chain.AddressOf(k.suite, k.pub).String(), nil, &acct); err != nil {
		return nil, fmt.Errorf("fetch nonce: %w", err)
	}
	tx := &chain.Tx{ChainID: chainID, Nonce: acct.NextNonce, Module: mod, Method: method, Args: raw}
	if err := tx.Sign(k.suite, k.priv); err != nil {
		return nil, err
	}
	return tx, nil
}
