package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway/openapi"
	"github.com/telemetra/telemetra/gateway/store"
	"github.com/telemetra/telemetra/internal/projection"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// The rules of alert subscriptions. apiDocument declares each of them in the OpenAPI document.
const (
	// MaxAlertSubscriptions bounds the subscriptions that are not deleted: every moment is
	// matched against all of them, and a client creating them in a loop (or a fuzzer) gets
	// RESOURCE_EXHAUSTED, not an unbounded table.
	MaxAlertSubscriptions = 1000
	maxAlertURLBytes      = 2048
	maxAlertDescription   = 1024 // characters
	maxAlertKinds         = 16
	// DefaultPreviousSecretTTL is how long a rotated-out secret still signs, unless told.
	DefaultPreviousSecretTTL = 24 * time.Hour
	// MaxPreviousSecretTTL bounds it.
	MaxPreviousSecretTTL = 7 * 24 * time.Hour

	alertSubscriptionsPage, alertSubscriptionsPageMax = 50, 1000
	alertDeliveriesPage, alertDeliveriesPageMax       = 50, 1000

	subscriptionPrefix = "alertSubscriptions/"
	// TestMomentChannel is the channel of a test delivery's moment when the subscription
	// follows every channel.
	TestMomentChannel = "test_channel"
	// TestMomentDescription is the description of a test delivery's moment.
	TestMomentDescription = "Telemetra test delivery"
)

// Patterns of the alert resources' ids and fields, as the document declares them.
const (
	// AlertSubscriptionIDPattern: 16 random bytes, hex.
	AlertSubscriptionIDPattern = `^[0-9a-f]{32}$`
	// AlertDeliveryIDPattern: a bigserial, within int64.
	AlertDeliveryIDPattern = `^[0-9]{1,18}$`
	// AlertURLPattern is an absolute http(s) URL with a host (a name or an IPv4 address, an
	// optional port), no userinfo and no fragment, in ASCII: every string it matches is a URL
	// net/url parses with that host.
	AlertURLPattern = `^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@/?%-]*)?$`
	// PreviousSecretTTLPattern is a JSON Duration from 0s to 604800s (7 days) inclusive, as
	// protojson spells it (no leading zeros).
	PreviousSecretTTLPattern = `^((0|[1-9][0-9]{0,4}|[1-5][0-9]{5}|60[0-3][0-9]{3}|604[0-7][0-9]{2})(\.[0-9]{1,9})?|604800(\.0{1,9})?)s$`
	// MinRaidViewersPattern is a non-negative int64 in JSON (a string without leading zeros).
	MinRaidViewersPattern = `^(0|[1-9][0-9]{0,17})$`
)

var (
	alertSubscriptionID = regexp.MustCompile(AlertSubscriptionIDPattern)
	alertDeliveryID     = regexp.MustCompile(AlertDeliveryIDPattern)
	alertURL            = regexp.MustCompile(AlertURLPattern)
)

// alertsOn answers UNIMPLEMENTED without a database, as historyOn does.
func (s *service) alertsOn() error {
	if s.alerts == nil {
		return status.Error(codes.Unimplemented, "alerts are off: no database configured (start the gateway with --database-url)")
	}
	return nil
}

// alertError maps a failure of the alerting store to a status; name is the resource's, checked
// by its parse.
func (s *service) alertError(ctx context.Context, what, name string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Errorf(codes.NotFound, "%q not found", name) // a name parsed already: short
	case errors.Is(err, store.ErrTooManySubscriptions):
		return status.Errorf(codes.ResourceExhausted, "%d alert subscriptions exist, the most there may be; delete one first", MaxAlertSubscriptions)
	}
	return s.storeError(ctx, what, err)
}

// newSubscription checks a subscription to create and returns it as the store takes it; the
// id and the secret are the server's.
func newSubscription(sub *pb.AlertSubscription) (store.NewSubscription, error) {
	if sub == nil {
		return store.NewSubscription{}, invalid("subscription", "required")
	}
	if err := checkAlertURL("subscription.url", sub.GetUrl()); err != nil {
		return store.NewSubscription{}, err
	}
	if c := sub.GetChannel(); c != "" {
		if msg := schemas.CheckChannel(c); msg != "" {
			return store.NewSubscription{}, invalid("subscription.channel", "%s %s, or empty for every channel", openapi.ShortQuote(c), msg)
		}
	}
	if len(sub.GetKinds()) > maxAlertKinds {
		return store.NewSubscription{}, invalid("subscription.kinds", "%d kinds; at most %d", len(sub.GetKinds()), maxAlertKinds)
	}
	kinds, err := momentKinds("subscription.kinds", sub.GetKinds())
	if err != nil {
		return store.NewSubscription{}, err
	}
	var names []string
	for _, k := range kinds {
		if name := projection.MomentKindName(k); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if n := sub.GetMinRaidViewers(); n < 0 {
		return store.NewSubscription{}, invalid("subscription.min_raid_viewers", "%d is negative", n)
	}
	if z := sub.GetMinAbsZScore(); z < 0 || math.IsNaN(z) || math.IsInf(z, 0) {
		return store.NewSubscription{}, invalid("subscription.min_abs_z_score", "%v; want a finite number >= 0", z)
	}
	if n := utf8.RuneCountInString(sub.GetDescription()); n > maxAlertDescription {
		return store.NewSubscription{}, invalid("subscription.description", "%d characters; at most %d", n, maxAlertDescription)
	}
	if !utf8.ValidString(sub.GetDescription()) {
		return store.NewSubscription{}, invalid("subscription.description", "not valid UTF-8")
	}
	return store.NewSubscription{URL: sub.GetUrl(), Channel: sub.GetChannel(), Kinds: names,
		MinRaidViewers: sub.GetMinRaidViewers(), MinAbsZScore: sub.GetMinAbsZScore(), Description: sub.GetDescription()}, nil
}

// checkAlertURL applies AlertURLPattern and the length bound; the parse is a second guard.
func checkAlertURL(field, raw string) error {
	if raw == "" {
		return invalid(field, "required: the receiver's http or https URL")
	}
	if len(raw) > maxAlertURLBytes {
		return invalid(field, "%d bytes; at most %d", len(raw), maxAlertURLBytes)
	}
	if !alertURL.MatchString(raw) {
		return invalid(field, "%s is not an absolute http or https URL with a host (no userinfo, no fragment, ASCII)", openapi.ShortQuote(raw))
	}
	if u, err := url.Parse(raw); err != nil || u.Host == "" || u.User != nil {
		return invalid(field, "%s is not a URL with a host", openapi.ShortQuote(raw))
	}
	return nil
}

// parseSubscriptionName takes "alertSubscriptions/{id}" and returns the id; orAll also takes
// "alertSubscriptions/-" (every subscription), returned as "".
func parseSubscriptionName(field, name string, orAll bool) (string, error) {
	if name == "" {
		return "", invalid(field, "required, e.g. \"alertSubscriptions/{id}\"")
	}
	id, ok := strings.CutPrefix(name, subscriptionPrefix)
	if orAll && ok && id == "-" {
		return "", nil
	}
	if !ok || !alertSubscriptionID.MatchString(id) {
		return "", invalid(field, "%s is not an alert subscription name; want \"alertSubscriptions/{id}\", the id 32 hex digits", openapi.ShortQuote(name))
	}
	return id, nil
}

// parseDeliveryName takes "alertSubscriptions/{id}/deliveries/{delivery}".
func parseDeliveryName(field, name string) (string, int64, error) {
	parent, delivery, ok := strings.Cut(strings.TrimPrefix(name, subscriptionPrefix), "/deliveries/")
	if name == "" {
		return "", 0, invalid(field, "required, e.g. \"alertSubscriptions/{id}/deliveries/{delivery}\"")
	}
	if !ok || !strings.HasPrefix(name, subscriptionPrefix) || !alertSubscriptionID.MatchString(parent) || !alertDeliveryID.MatchString(delivery) {
		return "", 0, invalid(field, "%s is not an alert delivery name; want \"alertSubscriptions/{id}/deliveries/{delivery}\"", openapi.ShortQuote(name))
	}
	n, _ := strconv.ParseInt(delivery, 10, 64) // 18 digits fit
	return parent, n, nil
}

// previousSecretUntil resolves RotateAlertSecret's previous_secret_ttl: nil when the previous
// secret stops at once.
func previousSecretUntil(req *pb.RotateAlertSecretRequest, now time.Time) (*time.Time, error) {
	ttl := DefaultPreviousSecretTTL
	if d := req.GetPreviousSecretTtl(); d != nil {
		if err := d.CheckValid(); err != nil {
			return nil, invalid("previous_secret_ttl", "%v", err)
		}
		ttl = d.AsDuration()
	}
	if ttl < 0 || ttl > MaxPreviousSecretTTL {
		return nil, invalid("previous_secret_ttl", "%s; want 0 to %s", ttl, MaxPreviousSecretTTL)
	}
	if ttl == 0 {
		return nil, nil
	}
	until := now.Add(ttl)
	return &until, nil
}

// newSubscriptionID is 16 random bytes in hex (AlertSubscriptionIDPattern).
func newSubscriptionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", status.Errorf(codes.Internal, "generate an id: %v", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// newAlertSecret is a signing secret: "whsec_" and 32 random bytes, base64url.
func newAlertSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", status.Errorf(codes.Internal, "generate a secret: %v", err)
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// testMoment is the made-up moment of a test delivery.
func testMoment(channel string, delivery int64, now time.Time) *pb.Moment {
	if channel == "" {
		channel = TestMomentChannel
	}
	at := timestamppb.New(now)
	return &pb.Moment{Id: fmt.Sprintf("test-%d", delivery), Channel: channel, Kind: pb.MomentKind_MOMENT_KIND_UNSPECIFIED,
		At: at, EmittedAt: at, Description: TestMomentDescription}
}

func (s *service) CreateAlertSubscription(ctx context.Context, req *pb.CreateAlertSubscriptionRequest) (*pb.AlertSubscription, error) {
	sub, err := newSubscription(req.GetSubscription())
	if err != nil {
		return nil, err
	}
	if err := s.alertsOn(); err != nil {
		return nil, err
	}
	if sub.ID, err = newSubscriptionID(); err != nil {
		return nil, err
	}
	if sub.Secret, err = newAlertSecret(); err != nil {
		return nil, err
	}
	sub.Now = s.now()
	out, err := s.alerts.CreateSubscription(ctx, sub, MaxAlertSubscriptions)
	if err != nil {
		return nil, s.alertError(ctx, "create alert subscription", "", err)
	}
	return out, nil
}

func (s *service) GetAlertSubscription(ctx context.Context, req *pb.GetAlertSubscriptionRequest) (*pb.AlertSubscription, error) {
	id, err := parseSubscriptionName("name", req.GetName(), false)
	if err != nil {
		return nil, err
	}
	if err := s.alertsOn(); err != nil {
		return nil, err
	}
	out, err := s.alerts.Subscription(ctx, id)
	if err != nil {
		return nil, s.alertError(ctx, "get alert subscription", req.GetName(), err)
	}
	return out, nil
}

// subscriptionCursor is the page cursor of ListAlertSubscriptions.
type subscriptionCursor struct {
	CreatedAt time.Time `json:"at"`
	ID        string    `json:"id"`
}

func (s *service) ListAlertSubscriptions(ctx context.Context, req *pb.ListAlertSubscriptionsRequest) (*pb.ListAlertSubscriptionsResponse, error) {
	size, err := pageSize(req.GetPageSize(), alertSubscriptionsPage, alertSubscriptionsPageMax)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(req, clearPaging)
	cursor, err := decodePageToken[subscriptionCursor](req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	if err := s.alertsOn(); err != nil {
		return nil, err
	}
	var after *store.SubscriptionCursor
	if cursor != nil {
		after = &store.SubscriptionCursor{CreatedAt: cursor.CreatedAt, ID: cursor.ID}
	}
	subs, err := s.alerts.Subscriptions(ctx, after, size+1)
	if err != nil {
		return nil, s.alertError(ctx, "list alert subscriptions", "", err)
	}
	resp := &pb.ListAlertSubscriptionsResponse{Subscriptions: subs}
	if len(subs) > size {
		last := subs[size-1]
		resp.Subscriptions = subs[:size]
		resp.NextPageToken = encodePageToken(fp, subscriptionCursor{CreatedAt: last.GetCreateTime().AsTime(),
			ID: strings.TrimPrefix(last.GetName(), subscriptionPrefix)})
	}
	return resp, nil
}

func (s *service) DeleteAlertSubscription(ctx context.Context, req *pb.DeleteAlertSubscriptionRequest) (*pb.DeleteAlertSubscriptionResponse, error) {
	id, err := parseSubscriptionName("name", req.GetName(), false)
	if err != nil {
		return nil, err
	}
	if err := s.alertsOn(); err != nil {
		return nil, err
	}
	n, err := s.alerts.DeleteSubscription(ctx, id, s.now())
	if err != nil {
		return nil, s.alertError(ctx, "delete alert subscription", req.GetName(), err)
	}
	return &pb.DeleteAlertSubscriptionResponse{CancelledDeliveries: n}, nil
}

func (s *service) RotateAlertSecret(ctx context.Context, req *pb.RotateAlertSecretRequest) (*pb.AlertSubscription, error) {
	id, err := parseSubscriptionName("name", req.GetName(), false)
	if err != nil {
		return nil, err
	}
	now := s.now()
	until, err := previousSecretUntil(req, now)
	if err != nil {
		return nil, err
	}
	if err := s.alertsOn(); err != nil {
		return nil, err
	}
	secret, err := newAlertSecret()
	if err != nil {
		return nil, err
	}
	out, err := s.alerts.RotateSecret(ctx, id, secret, now, until)
	if err != nil {
		return nil, s.alertError(ctx, "rotate alert secret", req.GetName(), err)
	}
	return out, nil
}

func (s *service) TestAlertSubscription(ctx context.Context, req *pb.TestAlertSubscriptionRequest) (*pb.AlertDelivery, error) {
	id, err := parseSubscriptionName("name", req.GetName(), false)
	if err != nil {
		return nil, err
	}
	if err := s.alertsOn(); err != nil {
		return nil, err
	}
	now := s.now()
	out, err := s.alerts.QueueTestDelivery(ctx, id, now, func(channel string, delivery int64) *pb.Moment {
		return testMoment(channel, delivery, now)
	})
	if err != nil {
		return nil, s.alertError(ctx, "test alert subscription", req.GetName(), err)
	}
	return out, nil
}

func (s *service) GetAlertDelivery(ctx context.Context, req *pb.GetAlertDeliveryRequest) (*pb.AlertDelivery, error) {
	sub, id, err := parseDeliveryName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.alertsOn(); err != nil {
		return nil, err
	}
	out, err := s.alerts.Delivery(ctx, sub, id)
	if err != nil {
		return nil, s.alertError(ctx, "get alert delivery", req.GetName(), err)
	}
	return out, nil
}

func (s *service) ListAlertDeliveries(ctx context.Context, req *pb.ListAlertDeliveriesRequest) (*pb.ListAlertDeliveriesResponse, error) {
	sub, err := parseSubscriptionName("parent", req.GetParent(), true)
	if err != nil {
		return nil, err
	}
	state := req.GetState()
	if _, known := pb.AlertDeliveryState_name[int32(state)]; !known {
		return nil, invalid("state", "unknown value %d", state)
	}
	size, err := pageSize(req.GetPageSize(), alertDeliveriesPage, alertDeliveriesPageMax)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(req, clearPaging)
	before, err := decodePageToken[int64](req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	if err := s.alertsOn(); err != nil {
		return nil, err
	}
	q := store.DeliveriesQuery{Subscription: sub, State: state, Limit: size + 1}
	if before != nil {
		q.Before = *before
	}
	rows, err := s.alerts.Deliveries(ctx, q)
	if err != nil {
		return nil, s.alertError(ctx, "list alert deliveries", req.GetParent(), err)
	}
	if len(rows) == 0 && before == nil && sub != "" {
		existed, err := s.alerts.SubscriptionExisted(ctx, sub)
		if err != nil {
			return nil, s.alertError(ctx, "list alert deliveries", req.GetParent(), err)
		}
		if !existed {
			return nil, s.alertError(ctx, "list alert deliveries", req.GetParent(), store.ErrNotFound)
		}
	}
	resp := &pb.ListAlertDeliveriesResponse{Deliveries: rows}
	if len(rows) > size {
		resp.Deliveries = rows[:size]
		_, last, _ := parseDeliveryName("", rows[size-1].GetName())
		resp.NextPageToken = encodePageToken(fp, last)
	}
	return resp, nil
}
