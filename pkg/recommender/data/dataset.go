package data

import (
	"fmt"
	"time"
)

// Event is the kind of an interaction.
type Event uint8

// Interaction kinds of the view → cart → purchase funnel.
const (
	// EventUnknown marks an interaction without an event column.
	EventUnknown Event = iota
	// EventView is a product page view.
	EventView
	// EventCart is an add-to-cart.
	EventCart
	// EventPurchase is a purchase.
	EventPurchase
)

// String returns the CSV spelling of the event.
func (e Event) String() string {
	switch e {
	case EventView:
		return "view"
	case EventCart:
		return "cart"
	case EventPurchase:
		return "purchase"
	default:
		return ""
	}
}

// DefaultWeight is the implicit-feedback weight of an event when the data
// carries no weight column: view 1, cart 3, purchase 5, unknown 1.
func (e Event) DefaultWeight() float32 {
	switch e {
	case EventCart:
		return 3
	case EventPurchase:
		return 5
	default:
		return 1
	}
}

// ParseEvent parses the CSV spelling of an event; "" is EventUnknown.
func ParseEvent(s string) (Event, error) {
	switch s {
	case "":
		return EventUnknown, nil
	case "view":
		return EventView, nil
	case "cart":
		return EventCart, nil
	case "purchase":
		return EventPurchase, nil
	default:
		return EventUnknown, fmt.Errorf("unknown event %q (want view, cart or purchase)", s)
	}
}

// Item is one catalogue entry.
type Item struct {
	// ID is the item identifier.
	ID string
	// Title is the product title; it may be empty.
	Title string
	// Category is the item's leaf category (an aisle); it may be empty.
	Category string
}

// Interaction is one user–item event. User and Item index Dataset.Users and
// Dataset.Items.
type Interaction struct {
	// User indexes Dataset.Users.
	User int32
	// Item indexes Dataset.Items.
	Item int32
	// Weight is the implicit-feedback strength, positive.
	Weight float32
	// Time is the event time in Unix seconds; zero when unknown.
	Time int64
	// Event is the funnel step; EventUnknown when not recorded.
	Event Event
	// Session indexes Dataset.Sessions, or is -1 when unknown.
	Session int32
}

// Query is one search issued in a session.
type Query struct {
	// User indexes Dataset.Users.
	User int32
	// Session indexes Dataset.Sessions.
	Session int32
	// Time is the query time in Unix seconds.
	Time int64
	// Text is what the user typed.
	Text string
}

// Dataset is a set of interactions with their users, items and queries.
type Dataset struct {
	// Users are user identifiers, indexed by Interaction.User.
	Users []string
	// Items is the catalogue, indexed by Interaction.Item.
	Items []Item
	// Sessions are session identifiers, indexed by Interaction.Session.
	Sessions []string
	// Interactions are the events, in file order.
	Interactions []Interaction
	// Queries are search queries; may be empty.
	Queries []Query
	// HasTime reports whether every interaction has a timestamp.
	HasTime bool
	// Hash is the hex sha256 of the source files (see Read and Write).
	Hash string
}

// TimeOf converts an interaction time to a time.Time in UTC.
func TimeOf(unix int64) time.Time {
	return time.Unix(unix, 0).UTC()
}
