package frontdoor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Client talks to a front door's control API.
type Client struct {
	// Base is the control API's base URL (http://127.0.0.1:port).
	Base string
	// HTTP sends the requests; nil means a client with a 5 s timeout.
	HTTP *http.Client
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return fmt.Errorf("building %s %s: %w", method, path, err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("front door %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("reading front door %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("front door %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decoding front door %s %s: %w", method, path, err)
		}
	}
	return nil
}

// SetRegions replaces the front door's backends.
func (c *Client) SetRegions(ctx context.Context, regions []Region) error {
	return c.do(ctx, http.MethodPut, "/v1/regions", Regions{Regions: regions}, nil)
}

// SwitchTo pins traffic to region, or returns to automatic failover when
// region is empty. It returns the state after the switch.
func (c *Client) SwitchTo(ctx context.Context, region string) (State, error) {
	var st State
	err := c.do(ctx, http.MethodPost, "/v1/switch", SwitchRequest{Region: region}, &st)
	return st, err
}

// State returns the front door's state.
func (c *Client) State(ctx context.Context) (State, error) {
	var st State
	err := c.do(ctx, http.MethodGet, "/v1/state", nil, &st)
	return st, err
}
