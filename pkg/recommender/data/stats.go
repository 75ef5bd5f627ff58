package data

import (
	"slices"
)

// Stats summarises a dataset with the statistics the generator is
// calibrated against.
type Stats struct {
	// Users, Items, Interactions and Queries count the dataset's rows.
	Users        int `json:"users"`
	Items        int `json:"items"`
	Interactions int `json:"interactions"`
	Queries      int `json:"queries"`
	// Top1Share is the share of interactions on the most popular 1% of items.
	Top1Share float64 `json:"top1Share"`
	// Top10Share is the share of interactions on the most popular 10% of items.
	Top10Share float64 `json:"top10Share"`
	// AtMostOneShare is the share of items with at most one interaction.
	AtMostOneShare float64 `json:"atMostOneShare"`
	// SessionMean and SessionMedian are events per session (0 without sessions).
	SessionMean   float64 `json:"sessionMean"`
	SessionMedian float64 `json:"sessionMedian"`
	// CartPerView and PurchasePerView are funnel conversion rates (0 without events).
	CartPerView     float64 `json:"cartPerView"`
	PurchasePerView float64 `json:"purchasePerView"`
}

// Summarize computes Stats for ds.
func Summarize(ds *Dataset) Stats {
	st := Stats{Users: len(ds.Users), Items: len(ds.Items), Interactions: len(ds.Interactions), Queries: len(ds.Queries)}
	counts := make([]int, len(ds.Items))
	sess := make([]int, len(ds.Sessions))
	var views, carts, purchases int
	for _, in := range ds.Interactions {
		counts[in.Item]++
		if in.Session >= 0 && int(in.Session) < len(sess) {
			sess[in.Session]++
		}
		switch in.Event {
		case EventView:
			views++
		case EventCart:
			carts++
		case EventPurchase:
			purchases++
		}
	}
	slices.SortFunc(counts, func(a, b int) int { return b - a })
	total := float64(len(ds.Interactions))
	share := func(frac float64) float64 {
		n := max(1, int(frac*float64(len(counts))))
		s := 0
		for _, c := range counts[:min(n, len(counts))] {
			s += c
		}
		return float64(s) / max(total, 1)
	}
	st.Top1Share, st.Top10Share = share(0.01), share(0.10)
	low := 0
	for _, c := range counts {
		if c <= 1 {
			low++
		}
	}
	st.AtMostOneShare = float64(low) / float64(max(1, len(counts)))
	if len(sess) > 0 {
		sum := 0
		for _, s := range sess {
			sum += s
		}
		st.SessionMean = float64(sum) / float64(len(sess))
		slices.Sort(sess)
		if len(sess)%2 == 1 {
			st.SessionMedian = float64(sess[len(sess)/2])
		} else {
			st.SessionMedian = float64(sess[len(sess)/2-1]+sess[len(sess)/2]) / 2
		}
	}
	if views > 0 {
		st.CartPerView = float64(carts) / float64(views)
		st.PurchasePerView = float64(purchases) / float64(views)
	}
	return st
}
