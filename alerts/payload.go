package alerts

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/telemetra/telemetra/internal/projection"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Payload is the JSON body of a delivery (docs/alerts.md, "Payload", has its JSON Schema).
type Payload struct {
	// ID is the idempotency key, also in the Telemetra-Webhook-Id header.
	ID string `json:"id"`
	// Type is "moment.<kind>", the kind as projection.MomentKindName: "moment.raid".
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Test      bool      `json:"test"`
	// Subscription is "alertSubscriptions/{id}".
	Subscription string `json:"subscription"`
	// Moment is the moment as the API returns it (protojson, as the REST gateway writes it).
	Moment json.RawMessage `json:"moment"`
}

// IdempotencyKey is a moment's key: its API resource name, "channels/{channel}/moments/{id}".
// The moment id is derived from the input only, so a moment read again (a restart, a replay) has
// the same key.
func IdempotencyKey(m *pb.Moment) string {
	return "channels/" + m.GetChannel() + "/moments/" + m.GetId()
}

// SubscriptionName is a subscription's resource name.
func SubscriptionName(id string) string { return "alertSubscriptions/" + id }

// EventType is the payload's type of a moment kind.
func EventType(k pb.MomentKind) string { return "moment." + projection.MomentKindName(k) }

// MomentJSON is m as the API writes it (the REST gateway's options: protojson's defaults,
// lowerCamelCase names, unset fields left out): the value stored in alert_deliveries.moment.
func MomentJSON(m *pb.Moment) ([]byte, error) {
	return protojson.Marshal(m)
}

// BuildPayload is the body of a delivery: the same bytes on every attempt of it, since every
// input is stored with the delivery.
func BuildPayload(key, subscriptionID string, createdAt time.Time, test bool, moment []byte) ([]byte, error) {
	var m pb.Moment
	if err := protojson.Unmarshal(moment, &m); err != nil {
		return nil, fmt.Errorf("decode the moment of delivery %s: %w", key, err)
	}
	return json.Marshal(Payload{
		ID: key, Type: EventType(m.GetKind()), CreatedAt: createdAt.UTC(), Test: test,
		Subscription: SubscriptionName(subscriptionID), Moment: json.RawMessage(moment),
	})
}
