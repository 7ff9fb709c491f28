package alerts

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestPayload(t *testing.T) {
	at := time.Date(2025, 10, 16, 10, 30, 0, 0, time.UTC)
	m := &pb.Moment{Id: "raid-1760610600", Channel: "demo", Kind: pb.MomentKind_MOMENT_KIND_RAID, At: timestamppb.New(at),
		Value: 800, Raid: &pb.RaidInfo{FromChannel: "gaming", Viewers: 800}}
	key := IdempotencyKey(m)
	if key != "channels/demo/moments/raid-1760610600" {
		t.Errorf("key %q", key)
	}
	moment, err := MomentJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	body, err := BuildPayload(key, "sub1", at.Add(time.Second), false, moment)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]any{
		"id": key, "type": "moment.raid", "created_at": "2025-10-16T10:30:01Z", "test": false, "subscription": "alertSubscriptions/sub1",
	} {
		if got[field] != want {
			t.Errorf("%s = %v, want %v", field, got[field], want)
		}
	}
	mom, _ := got["moment"].(map[string]any)
	if mom["kind"] != "MOMENT_KIND_RAID" || mom["channel"] != "demo" || mom["at"] != "2025-10-16T10:30:00Z" {
		t.Errorf("moment %v: not the API's JSON of the moment", mom)
	}
	again, _ := BuildPayload(key, "sub1", at.Add(time.Second), false, moment)
	if string(again) != string(body) {
		t.Errorf("a second build differs:\n%s\n%s", body, again)
	}
	if _, err := BuildPayload(key, "sub1", at, false, []byte(`{"kind": 7.5}`)); err == nil {
		t.Error("a moment that is not one: no error")
	}
}
