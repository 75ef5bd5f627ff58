package eval

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// Fold is a training matrix plus the held-out items of the evaluated users.
type Fold struct {
	// Train is what models are fitted on.
	Train *train.Matrix
	// Users are the evaluated users (rows of Train).
	Users []int32
	// Test holds each evaluated user's held-out items, sorted.
	Test [][]int32
}

// sample keeps at most max users, chosen with a seeded shuffle.
func sample(users []int32, test [][]int32, opts Options) ([]int32, [][]int32) {
	if opts.MaxUsers < 0 || len(users) <= opts.MaxUsers {
		return users, test
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0x73616d706c65))
	perm := r.Perm(len(users))[:opts.MaxUsers]
	slices.Sort(perm)
	u2, t2 := make([]int32, len(perm)), make([][]int32, len(perm))
	for j, p := range perm {
		u2[j], t2[j] = users[p], test[p]
	}
	return u2, t2
}

// holdOut chooses, for every user of m with at least MinItems distinct
// items, a seeded Holdout fraction (at least one) of them. held is indexed
// by user; users and test list the users with a holdout.
func holdOut(m *train.Matrix, opts Options) (held [][]int32, users []int32, test [][]int32) {
	held = make([][]int32, m.Users)
	for u := range m.Users {
		items, _ := m.Row(u)
		if len(items) < opts.MinItems {
			continue
		}
		r := rand.New(rand.NewPCG(opts.Seed, uint64(u)))
		n := max(1, int(math.Round(opts.Holdout*float64(len(items)))))
		h := make([]int32, 0, n)
		for _, p := range r.Perm(len(items))[:n] {
			h = append(h, items[p])
		}
		slices.Sort(h)
		held[u] = h
		users = append(users, int32(u))
		test = append(test, h)
	}
	return held, users, test
}

// UserSplit is the user split of ds: a Holdout fraction of each user's
// distinct items is held out (see docs/recommender.md). opts are completed
// with their defaults.
func UserSplit(ds *data.Dataset, opts Options) *Fold {
	return userSplit(ds, opts.withDefaults(ds))
}

func userSplit(ds *data.Dataset, opts Options) *Fold {
	full := train.NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, nil)
	held, users, test := holdOut(full, opts)
	f := &Fold{}
	f.Train = train.NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, func(n int) bool {
		in := ds.Interactions[n]
		_, found := slices.BinarySearch(held[in.User], in.Item)
		return !found
	})
	f.Users, f.Test = sample(users, test, opts)
	return f
}

// HoldOut splits the matrix m the way the user split splits a dataset, with
// opts' Holdout, MinItems, MaxUsers and Seed (zero values mean the
// defaults). Tuning uses it to carve a validation fold out of a training
// matrix, so it never sees the test items.
func HoldOut(m *train.Matrix, opts Options) *Fold {
	opts = opts.withDefaults(&data.Dataset{})
	held, users, test := holdOut(m, opts)
	f := &Fold{Train: m.Filter(func(u, i int32) bool {
		_, found := slices.BinarySearch(held[u], i)
		return !found
	})}
	f.Users, f.Test = sample(users, test, opts)
	return f
}

func timeSplit(ds *data.Dataset, opts Options) *Fold {
	times := make([]int64, len(ds.Interactions))
	for n, in := range ds.Interactions {
		times[n] = in.Time
	}
	slices.Sort(times)
	cutoff := times[min(len(times)-1, int(opts.TimeFraction*float64(len(times))))]
	f := &Fold{}
	f.Train = train.NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, func(n int) bool {
		return ds.Interactions[n].Time < cutoff
	})
	test := train.NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, func(n int) bool {
		return ds.Interactions[n].Time >= cutoff
	})
	for u := range test.Users {
		trainItems, _ := f.Train.Row(u)
		if len(trainItems) == 0 {
			continue
		}
		items, _ := test.Row(u)
		var h []int32
		for _, i := range items {
			if _, found := slices.BinarySearch(trainItems, i); !found {
				h = append(h, i)
			}
		}
		if len(h) > 0 {
			f.Users = append(f.Users, int32(u))
			f.Test = append(f.Test, h)
		}
	}
	f.Users, f.Test = sample(f.Users, f.Test, opts)
	return f
}
