package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"

	"github.com/firedrill/firedrill/pkg/recommender/topk"
)

// Mode switches an optional model on or off.
type Mode string

// Modes of an optional model.
const (
	// ModeAuto decides by cost; see EASEOptions.Enabled.
	ModeAuto Mode = "auto"
	// ModeOn always trains the model.
	ModeOn Mode = "on"
	// ModeOff never trains the model.
	ModeOff Mode = "off"
)

// EASEAutoMaxDim is the largest dense system (EASEShape.Dim) that ModeAuto
// trains EASE for: about 10 s of one core for the Cholesky inverse, and
// 16,384 × Items × 8 bytes of memory at most. The default synthetic data
// (50k users, 20k items) is above it; MovieLens-sized data is below.
const EASEAutoMaxDim = 4096

// EASEOptions configure EASE.
type EASEOptions struct {
	// Mode says whether Build and the evaluation train EASE. Default auto.
	Mode Mode
	// Lambda is the L2 penalty on the item-item weights. Default 300.
	Lambda float64
	// MaxItems caps the items in the model: the most popular are kept, the
	// rest get no weights. Default 20,000.
	MaxItems int
	// K is the number of weights kept per item, the largest first. Default
	// 200.
	K int
	// Workers is the number of goroutines. Default 1.
	Workers int
}

func (o EASEOptions) withDefaults() EASEOptions {
	if o.Mode == "" {
		o.Mode = ModeAuto
	}
	if o.Lambda == 0 {
		o.Lambda = 300
	}
	if o.MaxItems == 0 {
		o.MaxItems = 20_000
	}
	if o.K == 0 {
		o.K = 200
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	return o
}

// Validate reports invalid options.
func (o EASEOptions) Validate() error {
	var errs []error
	switch o.Mode {
	case ModeAuto, ModeOn, ModeOff:
	default:
		errs = append(errs, fmt.Errorf("ease mode must be auto, on or off, got %q", o.Mode))
	}
	if !(o.Lambda > 0) {
		errs = append(errs, fmt.Errorf("ease lambda must be positive, got %g", o.Lambda))
	}
	if o.MaxItems < 1 || o.MaxItems > 50_000 {
		errs = append(errs, fmt.Errorf("ease max items must be in [1,50000], got %d", o.MaxItems))
	}
	if o.K < 1 || o.K > 5_000 {
		errs = append(errs, fmt.Errorf("ease weights per item must be in [1,5000], got %d", o.K))
	}
	return errors.Join(errs...)
}

// EASEShape is the size of the linear system EASE solves for m.
type EASEShape struct {
	// Items is the number of items in the model (at most MaxItems).
	Items int
	// Users is the number of users with an interaction on those items.
	Users int
}

// Dim is the order of the dense matrix EASE factorises: the item Gram
// matrix, or the user Gram matrix when there are fewer users than items
// (Woodbury identity). The solve costs about Dim³ floating-point operations
// and 8·Dim·Items bytes.
func (s EASEShape) Dim() int { return min(s.Items, s.Users) }

// easeItems returns the items EASE models, the most popular first (ties to
// the lower index), and the shape of the problem.
func easeItems(m *Matrix, maxItems int) ([]int32, EASEShape) {
	var items []int32
	for i := range m.Items {
		if m.ColPtr[i+1] > m.ColPtr[i] {
			items = append(items, int32(i))
		}
	}
	slices.SortStableFunc(items, func(a, b int32) int {
		return cmp.Compare(m.ColPtr[b+1]-m.ColPtr[b], m.ColPtr[a+1]-m.ColPtr[a])
	})
	items = items[:min(len(items), maxItems)]
	slices.Sort(items)
	in := make([]bool, m.Items)
	for _, i := range items {
		in[i] = true
	}
	users := 0
	for u := range m.Users {
		row, _ := m.Row(u)
		for _, i := range row {
			if in[i] {
				users++
				break
			}
		}
	}
	return items, EASEShape{Items: len(items), Users: users}
}

// Enabled reports whether EASE is to be trained for a problem of this
// shape: always with ModeOn, never with ModeOff, and with ModeAuto when the
// dense system has order at most EASEAutoMaxDim.
func (o EASEOptions) Enabled(s EASEShape) bool {
	switch o.withDefaults().Mode {
	case ModeOn:
		return s.Items >= 2
	case ModeOff:
		return false
	default:
		return s.Items >= 2 && s.Dim() <= EASEAutoMaxDim
	}
}

// EASEShapeOf returns the problem size EASE would solve for m.
func EASEShapeOf(m *Matrix, opts EASEOptions) EASEShape {
	_, s := easeItems(m, opts.withDefaults().MaxItems)
	return s
}

// EASE fits Steck's "Embarrassingly Shallow Autoencoder" (WWW 2019) on the
// binarised matrix: B = I − P·diag(1/diag(P)) with P = (XᵀX + λI)⁻¹, so
// diag(B) = 0. It keeps the K largest weights of each row of B (item i's
// contribution to every other item's score) as neighbour lists; items
// beyond MaxItems by popularity get none. With fewer users than items P is
// computed through the Woodbury identity, P = (I − Xᵀ(λI + XXᵀ)⁻¹X)/λ, whose
// dense inverse has the order of the user count.
func EASE(ctx context.Context, m *Matrix, opts EASEOptions) (*Neighbors, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	items, shape := easeItems(m, opts.MaxItems)
	n := len(items)
	k := min(opts.K, max(n-1, 1))
	nb := &Neighbors{K: k, Items: make([]int32, m.Items*k), Scores: make([]float32, m.Items*k)}
	for p := range nb.Items {
		nb.Items[p] = -1
	}
	if n < 2 {
		return nb, nil
	}
	pos := make([]int32, m.Items) // item -> position in items, or -1
	for i := range pos {
		pos[i] = -1
	}
	for j, i := range items {
		pos[i] = int32(j)
	}
	var rows func(i int, p []float64)
	var diag []float64
	var err error
	if shape.Users < n {
		rows, diag, err = easeDual(ctx, m, items, pos, opts)
	} else {
		rows, diag, err = easePrimal(ctx, m, items, pos, opts)
	}
	if err != nil {
		return nil, err
	}
	// Row i of B: B_ij = −P_ij / P_jj, B_ii = 0; keep the k largest.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			p := make([]float64, n)
			var h topk.Heap
			for {
				r := int(next.Add(1) - 1)
				if r >= n || ctx.Err() != nil {
					return
				}
				rows(r, p)
				h.Reset(k)
				for j, v := range p {
					if j != r {
						h.Push(topk.Item{Idx: int32(j), Score: float32(-v / diag[j])})
					}
				}
				row := int(items[r]) * k
				for c, it := range h.Sorted() {
					nb.Items[row+c] = items[it.Idx]
					nb.Scores[row+c] = it.Score
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ease: %w", err)
	}
	return nb, nil
}

// easePrimal inverts the n x n item Gram matrix XᵀX + λI by Cholesky
// factorisation. rows(r, p) copies row r of P into p.
func easePrimal(ctx context.Context, m *Matrix, items, pos []int32, opts EASEOptions) (func(int, []float64), []float64, error) {
	n := len(items)
	g := make([]float64, n*n)
	sel := make([]int32, 0, 64)
	for u := range m.Users {
		if u%4096 == 0 && ctx.Err() != nil {
			return nil, nil, fmt.Errorf("ease: %w", ctx.Err())
		}
		row, _ := m.Row(u)
		sel = sel[:0]
		for _, i := range row {
			if p := pos[i]; p >= 0 {
				sel = append(sel, p)
			}
		}
		for a, pa := range sel { // sel is ascending: fill the upper triangle
			for _, pb := range sel[a:] {
				g[int(pa)*n+int(pb)]++
			}
		}
	}
	for i := range n {
		g[i*n+i] += opts.Lambda
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("ease: %w", err)
	}
	sym := blas64.Symmetric{N: n, Stride: n, Uplo: blas.Upper, Data: g}
	if _, ok := lapack64.Potrf(sym); !ok {
		return nil, nil, errors.New("ease: item Gram matrix is not positive definite")
	}
	if _, ok := lapack64.Potri(blas64.Triangular{N: n, Stride: n, Uplo: blas.Upper, Diag: blas.NonUnit, Data: g}); !ok {
		return nil, nil, errors.New("ease: item Gram matrix is singular")
	}
	for a := range n { // mirror the upper triangle so rows are contiguous
		for b := a + 1; b < n; b++ {
			g[b*n+a] = g[a*n+b]
		}
	}
	diag := make([]float64, n)
	for i := range n {
		diag[i] = g[i*n+i]
	}
	return func(r int, p []float64) { copy(p, g[r*n:(r+1)*n]) }, diag, nil
}

// easeDual computes rows of λP = I − XᵀQ with Q = (λI + XXᵀ)⁻¹X, an
// nu x n matrix over the nu users with a modelled item. The common factor
// 1/λ cancels in B.
func easeDual(ctx context.Context, m *Matrix, items, pos []int32, opts EASEOptions) (func(int, []float64), []float64, error) {
	n := len(items)
	// Users with a modelled item, and each item's users among them.
	uidx := make([]int32, m.Users)
	var nu int32
	for u := range m.Users {
		uidx[u] = -1
		row, _ := m.Row(u)
		for _, i := range row {
			if pos[i] >= 0 {
				uidx[u] = nu
				nu++
				break
			}
		}
	}
	cols := make([][]int32, n)
	for j, i := range items {
		users, _ := m.Col(int(i))
		for _, u := range users {
			cols[j] = append(cols[j], uidx[u])
		}
	}
	mu := int(nu)
	// A = λI + XXᵀ (upper triangle), then A⁻¹.
	a := make([]float64, mu*mu)
	for _, c := range cols { // users within a column are ascending
		for x, ua := range c {
			for _, ub := range c[x:] {
				a[int(ua)*mu+int(ub)]++
			}
		}
	}
	for u := range mu {
		a[u*mu+u] += opts.Lambda
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("ease: %w", err)
	}
	if _, ok := lapack64.Potrf(blas64.Symmetric{N: mu, Stride: mu, Uplo: blas.Upper, Data: a}); !ok {
		return nil, nil, errors.New("ease: user Gram matrix is not positive definite")
	}
	if _, ok := lapack64.Potri(blas64.Triangular{N: mu, Stride: mu, Uplo: blas.Upper, Diag: blas.NonUnit, Data: a}); !ok {
		return nil, nil, errors.New("ease: user Gram matrix is singular")
	}
	for x := range mu {
		for y := x + 1; y < mu; y++ {
			a[y*mu+x] = a[x*mu+y]
		}
	}
	// Q[u, j] = Σ_{v ∈ col j} A⁻¹[u, v], row by row in parallel.
	q := make([]float64, mu*n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			for {
				u := int(next.Add(1) - 1)
				if u >= mu || ctx.Err() != nil {
					return
				}
				qu, au := q[u*n:(u+1)*n], a[u*mu:(u+1)*mu]
				for j, c := range cols {
					var s float64
					for _, v := range c {
						s += au[v]
					}
					qu[j] = s
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("ease: %w", err)
	}
	diag := make([]float64, n)
	for j, c := range cols {
		d := 1.0
		for _, u := range c {
			d -= q[int(u)*n+j]
		}
		diag[j] = d
	}
	return func(r int, p []float64) {
		clear(p)
		for _, u := range cols[r] {
			axpy64(-1, q[int(u)*n:(int(u)+1)*n], p)
		}
		p[r]++
	}, diag, nil
}
