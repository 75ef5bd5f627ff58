package syncbuf

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBufferConcurrentWritesAndReads(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 100 {
				_, _ = fmt.Fprintf(&b, "%d", i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	require.Len(t, b.String(), 400)
	got := b.Bytes()
	got[0] = 'x'
	require.NotEqual(t, byte('x'), b.Bytes()[0], "Bytes is a copy")
}
