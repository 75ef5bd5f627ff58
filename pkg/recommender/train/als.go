package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// ALSOptions configure implicit-feedback ALS.
type ALSOptions struct {
	// Factors is the latent dimension. Default 64.
	Factors int
	// Iterations is the number of alternating sweeps. Default 12.
	Iterations int
	// Regularization is the L2 penalty λ. Default 0.05.
	Regularization float64
	// Alpha scales confidence: c = 1 + Alpha*log(1 + weight/Epsilon). Default 20.
	Alpha float64
	// Epsilon scales weights inside the confidence log. Default 1.
	Epsilon float64
	// CGSteps is the number of conjugate-gradient steps per row and sweep.
	// Default 3.
	CGSteps int
	// Workers is the number of goroutines. Default 1.
	Workers int
	// Seed initialises the factors. Default 1.
	Seed uint64
}

func (o ALSOptions) withDefaults() ALSOptions {
	if o.Factors == 0 {
		o.Factors = 64
	}
	if o.Iterations == 0 {
		o.Iterations = 12
	}
	if o.Regularization == 0 {
		o.Regularization = 0.05
	}
	if o.Alpha == 0 {
		o.Alpha = 20
	}
	if o.Epsilon == 0 {
		o.Epsilon = 1
	}
	if o.CGSteps == 0 {
		o.CGSteps = 3
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// Validate reports invalid options.
func (o ALSOptions) Validate() error {
	var errs []error
	if o.Factors < 1 || o.Factors > 1024 {
		errs = append(errs, fmt.Errorf("factors must be in [1,1024], got %d", o.Factors))
	}
	if o.Iterations < 1 {
		errs = append(errs, fmt.Errorf("iterations must be at least 1, got %d", o.Iterations))
	}
	if o.Regularization < 0 || o.Alpha < 0 || o.Epsilon <= 0 {
		errs = append(errs, fmt.Errorf("regularization and alpha must not be negative and epsilon must be positive, got %g, %g, %g",
			o.Regularization, o.Alpha, o.Epsilon))
	}
	if o.CGSteps < 1 {
		errs = append(errs, fmt.Errorf("cg steps must be at least 1, got %d", o.CGSteps))
	}
	return errors.Join(errs...)
}

// Factors are ALS results: row-major user and item matrices of width Rank.
type Factors struct {
	// Rank is the latent dimension.
	Rank int
	// Users is Users x Rank.
	Users []float32
	// Items is Items x Rank.
	Items []float32
}

// ALS factorises m with implicit-feedback alternating least squares. Each
// row solves (YᵀY + Yᵤᵀ(Cᵤ−I)Yᵤ + λI) x = YᵤᵀCᵤ1 approximately with a few
// warm-started conjugate-gradient steps, so a sweep costs
// O(nnz·k + rows·k²) instead of the O(rows·k³) of exact solves.
func ALS(ctx context.Context, m *Matrix, opts ALSOptions) (*Factors, error) {
	s, err := NewALS(m, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Sweep(ctx, s.opts.Iterations); err != nil {
		return nil, err
	}
	return s.Factors(), nil
}

// ALSState is an ALS fit in progress. Sweep continues it, so NewALS
// followed by Sweep(n) gives exactly the factors of ALS with Iterations n;
// tuning uses it to evaluate one fit after several sweep counts.
type ALSState struct {
	m             *Matrix
	opts          ALSOptions
	x, y          []float64
	conf, colConf []float64
	sweeps        int
}

// NewALS initialises an ALS fit of m; opts.Iterations is ignored.
func NewALS(m *Matrix, opts ALSOptions) (*ALSState, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	k := opts.Factors
	r := rand.New(rand.NewPCG(opts.Seed, 0x616c73))
	s := &ALSState{m: m, opts: opts, x: make([]float64, m.Users*k), y: make([]float64, m.Items*k)}
	scale := 0.01
	for i := range s.x {
		s.x[i] = r.NormFloat64() * scale
	}
	for i := range s.y {
		s.y[i] = r.NormFloat64() * scale
	}
	s.conf = make([]float64, len(m.RowVals))
	for p, w := range m.RowVals {
		s.conf[p] = 1 + opts.Alpha*math.Log1p(float64(w)/opts.Epsilon)
	}
	s.colConf = make([]float64, len(m.ColVals))
	for p, w := range m.ColVals {
		s.colConf[p] = 1 + opts.Alpha*math.Log1p(float64(w)/opts.Epsilon)
	}
	return s, nil
}

// Sweep runs n more alternating sweeps (users, then items).
func (s *ALSState) Sweep(ctx context.Context, n int) error {
	m, k := s.m, s.opts.Factors
	for range n {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("als: %w", err)
		}
		sweep(s.x, s.y, m.Users, k, m.RowPtr, m.RowItems, s.conf, s.opts)
		sweep(s.y, s.x, m.Items, k, m.ColPtr, m.ColUsers, s.colConf, s.opts)
		s.sweeps++
	}
	return nil
}

// Sweeps is the number of sweeps run so far.
func (s *ALSState) Sweeps() int { return s.sweeps }

// Factors returns the current factors as float32. Items and users without
// interactions keep no signal; they are zeroed so they never outrank
// observed items by initialisation noise.
func (s *ALSState) Factors() *Factors {
	m, k := s.m, s.opts.Factors
	f := &Factors{Rank: k, Users: make([]float32, len(s.x)), Items: make([]float32, len(s.y))}
	for i, v := range s.x {
		f.Users[i] = float32(v)
	}
	for i, v := range s.y {
		f.Items[i] = float32(v)
	}
	for i := range m.Items {
		if m.ColPtr[i+1] == m.ColPtr[i] {
			clear(f.Items[i*k : (i+1)*k])
		}
	}
	for u := range m.Users {
		if m.RowPtr[u+1] == m.RowPtr[u] {
			clear(f.Users[u*k : (u+1)*k])
		}
	}
	return f
}

// gram returns YᵀY + λI for the n x k matrix y, computed in parallel
// chunks with BLAS rank-k updates.
func gram(y []float64, n, k int, lambda float64, workers int) []float64 {
	parts := make([][]float64, workers)
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := range workers {
		wg.Go(func() {
			g := make([]float64, k*k)
			lo, hi := min(n, w*chunk), min(n, (w+1)*chunk)
			if hi > lo {
				a := blas64.General{Rows: hi - lo, Cols: k, Stride: k, Data: y[lo*k : hi*k]}
				blas64.Syrk(blas.Trans, 1, a, 0, blas64.Symmetric{Uplo: blas.Upper, N: k, Stride: k, Data: g})
			}
			parts[w] = g
		})
	}
	wg.Wait()
	g := make([]float64, k*k)
	for _, p := range parts {
		for i, v := range p {
			g[i] += v
		}
	}
	for a := range k {
		for b := a + 1; b < k; b++ {
			g[b*k+a] = g[a*k+b]
		}
		g[a*k+a] += lambda
	}
	return g
}

// sweep updates every row of x against fixed y.
func sweep(x, y []float64, rows, k int, ptr []int64, idx []int32, conf []float64, opts ALSOptions) {
	g := gram(y, len(y)/k, k, opts.Regularization, opts.Workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	const batch = 256
	for range opts.Workers {
		wg.Go(func() {
			s := newCGScratch(k)
			for {
				lo := int(next.Add(batch) - batch)
				if lo >= rows {
					return
				}
				for u := lo; u < min(rows, lo+batch); u++ {
					if ptr[u] == ptr[u+1] {
						continue
					}
					s.solve(x[u*k:(u+1)*k], y, g, k, idx[ptr[u]:ptr[u+1]], conf[ptr[u]:ptr[u+1]], opts.CGSteps)
				}
			}
		})
	}
	wg.Wait()
}

type cgScratch struct {
	r, p, ap []float64
}

func newCGScratch(k int) *cgScratch {
	return &cgScratch{r: make([]float64, k), p: make([]float64, k), ap: make([]float64, k)}
}

// dot64, axpy64 and symv use gonum's BLAS, whose amd64 kernels are SIMD
// assembly; these three carry almost all of the ALS arithmetic.
func dot64(a, b []float64) float64 {
	return blas64.Dot(blas64.Vector{N: len(a), Inc: 1, Data: a}, blas64.Vector{N: len(b), Inc: 1, Data: b})
}

func axpy64(alpha float64, x, y []float64) {
	blas64.Axpy(alpha, blas64.Vector{N: len(x), Inc: 1, Data: x}, blas64.Vector{N: len(y), Inc: 1, Data: y})
}

// symv sets out = g·v for the k x k matrix g.
func symv(g, v, out []float64, k int) {
	blas64.Gemv(blas.NoTrans, 1, blas64.General{Rows: k, Cols: k, Stride: k, Data: g},
		blas64.Vector{N: k, Inc: 1, Data: v}, 0, blas64.Vector{N: k, Inc: 1, Data: out})
}

// solve runs CG steps on row x (warm start) for the observed columns idx
// with confidences conf.
func (s *cgScratch) solve(x, y, g []float64, k int, idx []int32, conf []float64, steps int) {
	r, p, ap := s.r, s.p, s.ap
	// r = b - A x, with b = Σ c_i y_i and A x = G x + Σ (c_i-1)(y_i·x) y_i.
	symv(g, x, r, k)
	for i := range r {
		r[i] = -r[i]
	}
	for j, it := range idx {
		yi := y[int(it)*k : int(it+1)*k]
		c := conf[j]
		axpy64(c-(c-1)*dot64(yi, x), yi, r)
	}
	copy(p, r)
	rs := dot64(r, r)
	for range steps {
		if rs < 1e-20 {
			return
		}
		symv(g, p, ap, k)
		for j, it := range idx {
			yi := y[int(it)*k : int(it+1)*k]
			axpy64((conf[j]-1)*dot64(yi, p), yi, ap)
		}
		alpha := rs / dot64(p, ap)
		axpy64(alpha, p, x)
		axpy64(-alpha, ap, r)
		rsNew := dot64(r, r)
		beta := rsNew / rs
		for i := range p {
			p[i] = r[i] + beta*p[i]
		}
		rs = rsNew
	}
}
