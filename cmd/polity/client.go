package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/openapi"
	"github.com/polityledger/polity/services"
)

// maxResponse bounds what the client reads from a node.
const maxResponse = 16 << 20

type client struct {
	base string
	http *http.Client
	auth *authKey // signs every non-GET request when set
}

// authKey is the key that signs API write requests (RFC 9421) for a DID.
type authKey struct {
	suite crypto.Suite
	key   crypto.PrivateKey
	keyid string // DID URL; empty: the key's own key DID
}

// loadAuthKey reads a key file for signing requests as keyid (empty: the
// key's key DID).
func loadAuthKey(path, keyid string) (*authKey, error) {
	s, k, err := keyfile.Load(path)
	if err != nil {
		return nil, fmt.Errorf("auth key: %w", err)
	}
	return &authKey{suite: s, key: k, keyid: keyid}, nil
}

func newClient(url string) *client {
	return &client{base: strings.TrimRight(url, "/"), http: &http.Client{Timeout: 90 * time.Second}}
}

// problemError is an API error as the node reported it.
type problemError struct{ p openapi.Problem }

func (e problemError) Error() string {
	d := ""
	if e.p.Detail != nil {
		d = ": " + *e.p.Detail
	}
	return fmt.Sprintf("%d %s (%s)%s", e.p.Status, e.p.Title, e.p.Code, d)
}

// send signs (when c.auth is set and the method is not GET) and sends a
// request with in as its JSON body; hc, if set, replaces c's HTTP client.
// A non-2xx answer is returned as an error and its body closed.
func (c *client) send(ctx context.Context, hc *http.Client, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != nil && method != http.MethodGet {
		if err := services.SignRequest(req, c.auth.suite, c.auth.key, c.auth.keyid); err != nil {
			return nil, err
		}
	}
	if hc == nil {
		hc = c.http
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp, err
	}
	var p openapi.Problem
	if json.Unmarshal(raw, &p) == nil && p.Code != "" {
		return resp, problemError{p}
	}
	return resp, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(raw))
}

// do sends a request and decodes a 2xx JSON answer into out.
func (c *client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	resp, err := c.send(ctx, nil, method, path, in)
	if resp == nil || err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return status, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode response: %w", err)
		}
	}
	return resp.StatusCode, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
