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

	"github.com/polityledger/polity/openapi"
)

// maxResponse bounds what the client reads from a node.
const maxResponse = 16 << 20

type client struct {
	base string
	http *http.Client
	// sign, when set, authenticates every state-changing request (the
	// spec's x-polity-write operations) just before it is sent: the one
	// place where request signing goes.
	sign func(*http.Request) error
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

// do sends a request and decodes a 2xx JSON answer into out.
func (c *client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.sign != nil && method != http.MethodGet {
		if err := c.sign(req); err != nil {
			return 0, fmt.Errorf("sign request: %w", err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		var p openapi.Problem
		if json.Unmarshal(raw, &p) == nil && p.Code != "" {
			return resp.StatusCode, problemError{p}
		}
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(raw))
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
