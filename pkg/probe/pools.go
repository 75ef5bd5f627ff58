package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxPoolBody bounds the size of a /v1/sample response.
const maxPoolBody = 32 << 20

// FetchPools asks the service for n real users, items and queries:
// GET {endpoint}/v1/sample?n=N returning {"users":[],"items":[],"queries":[]}.
// A nil client uses one with a 10 s timeout.
func FetchPools(ctx context.Context, client *http.Client, endpoint string, n int) (Pools, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	u, err := url.Parse(strings.TrimSuffix(endpoint, "/") + "/v1/sample")
	if err != nil {
		return Pools{}, fmt.Errorf("parsing endpoint %q: %w", endpoint, err)
	}
	u.RawQuery = url.Values{"n": {strconv.Itoa(n)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Pools{}, fmt.Errorf("building sample request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Pools{}, fmt.Errorf("fetching sample pools: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Pools{}, fmt.Errorf("fetching sample pools from %s: status %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	var body struct {
		Users   []string `json:"users"`
		Items   []string `json:"items"`
		Queries []string `json:"queries"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPoolBody)).Decode(&body); err != nil {
		return Pools{}, fmt.Errorf("decoding sample pools from %s: %w", u, err)
	}
	return Pools{Users: body.Users, Items: body.Items, Queries: body.Queries}, nil
}
