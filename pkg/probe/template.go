package probe

import (
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// picker chooses templates by weight and fills them from the pools with a
// seeded random source. It is safe for concurrent use; the sequence of picks
// depends only on the seed.
type picker struct {
	mu      sync.Mutex
	rng     *rand.Rand
	tmpls   []Template
	cum     []int // cumulative weights
	total   int
	pools   Pools
	base    string
	queryAt []int // index of '?' in each template path, -1 when none
}

func newPicker(base string, tmpls []Template, pools Pools, seed int64) *picker {
	p := &picker{
		rng:   rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5eed)),
		tmpls: tmpls, pools: pools, base: base,
	}
	for _, t := range tmpls {
		p.total += t.Weight
		p.cum = append(p.cum, p.total)
		p.queryAt = append(p.queryAt, strings.IndexByte(t.Path, '?'))
	}
	return p
}

// next returns the index of the chosen template and the filled URL.
func (p *picker) next() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := 0
	if len(p.tmpls) > 1 {
		r := p.rng.IntN(p.total)
		i = sort.SearchInts(p.cum, r+1)
	}
	return i, p.base + p.fill(p.tmpls[i].Path, p.queryAt[i])
}

// fill replaces each placeholder occurrence with a random pool value,
// path-escaped before the '?' and query-escaped after it. Called with mu held.
func (p *picker) fill(path string, queryAt int) string {
	if !strings.Contains(path, "{") {
		return path
	}
	var b strings.Builder
	for i := 0; i < len(path); {
		if path[i] == '{' {
			if ph, ok := p.placeholderAt(path[i:]); ok {
				pool := p.pools.pool(ph)
				v := pool[p.rng.IntN(len(pool))]
				if queryAt >= 0 && i > queryAt {
					b.WriteString(url.QueryEscape(v))
				} else {
					b.WriteString(url.PathEscape(v))
				}
				i += len(ph)
				continue
			}
		}
		b.WriteByte(path[i])
		i++
	}
	return b.String()
}

func (p *picker) placeholderAt(s string) (string, bool) {
	for _, ph := range placeholders {
		if strings.HasPrefix(s, ph) {
			return ph, true
		}
	}
	return "", false
}
