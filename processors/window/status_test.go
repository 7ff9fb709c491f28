package window

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// TestWindowStatusDoesNotDependOnReadOrder: live, the processor reads stream_meta alongside
// chat; a replay may read all of stream_meta and the viewer samples first. The final windows
// must carry the same status either way: the one as of each window's latest event.
func TestWindowStatusDoesNotDependOnReadOrder(t *testing.T) {
	var events []schemas.Event
	metaAt := func(d string, typ schemas.StreamEventType, title, category string) {
		events = append(events, schemas.StreamMeta{Channel: "demo_stream", EventType: typ, Title: title, Category: category, Timestamp: at(d)})
	}
	metaAt("2s", schemas.StreamStart, "Chill vibes", "Art")
	metaAt("1m30s", schemas.TitleChange, "Sub goal grind", "")
	metaAt("2m10s", schemas.CategoryChange, "", "Minecraft")
	events = append(events, schemas.StreamMeta{Channel: "demo_stream", EventType: schemas.RaidIncoming, RaidFrom: "big", RaidViewers: 50, Timestamp: at("2m40s")})
	metaAt("3m50s", schemas.StreamEnd, "", "")
	for s := 5; s < 230; s += 5 {
		events = append(events, chat(t0.Add(time.Duration(s)*time.Second), fmt.Sprintf("u%d", s%4), "gg"))
		if s%10 == 0 {
			events = append(events, viewers(t0.Add(time.Duration(s)*time.Second), int64(100+s), int64(10+s/10)))
		}
	}
	slices.SortStableFunc(events, func(a, b schemas.Event) int { return a.EventTime().Compare(b.EventTime()) })

	// status first: every stream_meta and viewer event before any chat message
	statusFirst := slices.Clone(events)
	slices.SortStableFunc(statusFirst, func(a, b schemas.Event) int {
		rank := func(e schemas.Event) int {
			if _, ok := e.(schemas.ChatMessage); ok {
				return 1
			}
			return 0
		}
		return rank(a) - rank(b)
	})

	inOrder, metaFirst := finalsOf(t, events), finalsOf(t, statusFirst)
	if len(inOrder) != 4 {
		t.Fatalf("%d final windows, want 4", len(inOrder))
	}
	for i := range inOrder {
		a, b := inOrder[i], metaFirst[i]
		if !proto.Equal(a.Status, b.Status) {
			t.Errorf("window %s: status read in order\n  %v\nread status first\n  %v", a.WindowStart.AsTime().Format("15:04"), a.Status, b.Status)
		}
	}
	// and it is the status as of each window's latest event
	want := []struct {
		title, category string
		live            bool
		viewers         int64
	}{{"Chill vibes", "Art", true, 150}, {"Sub goal grind", "Art", true, 210}, {"Sub goal grind", "Minecraft", true, 270}, {"Sub goal grind", "Minecraft", false, 320}}
	for i, w := range want {
		s := inOrder[i].Status
		if s.Title != w.title || s.Category != w.category || s.Live != w.live || s.Viewers != w.viewers {
			t.Errorf("window %d: status %v, want %+v", i, s, w)
		}
	}
	if r := inOrder[2].Status.GetLastRaid(); r.GetFromChannel() != "big" {
		t.Errorf("the raid at 2m40s is not in the 10:02 window's status: %v", inOrder[2].Status)
	}
}

// finalsOf reads the events in the given order, each reaching Kafka at its event time (so
// none is late), then closes everything.
func finalsOf(t *testing.T, events []schemas.Event) []*pb.WindowAggregate {
	t.Helper()
	d := newDriver(newEngine(t))
	for _, r := range recordsOf(events) {
		d.read(r)
	}
	closeAll(d, t0.Add(time.Hour))
	if len(d.late) > 0 {
		t.Fatalf("late: %v", d.late)
	}
	finals := slices.Collect(maps.Values(d.finals))
	slices.SortFunc(finals, func(a, b *pb.WindowAggregate) int { return a.WindowStart.AsTime().Compare(b.WindowStart.AsTime()) })
	return finals
}

// TestAWindowKeepsOnlyTheStatusEventsThatCount: of the events setting the same fields only the
// latest by event time decides the window's status, so the rest are not kept.
func TestAWindowKeepsOnlyTheStatusEventsThatCount(t *testing.T) {
	w := &pb.OpenWindow{}
	title := func(s, title string) *pb.StatusEvent {
		return metaStatusEvent(schemas.StreamMeta{EventType: schemas.TitleChange, Title: title, Timestamp: at(s)}, at(s))
	}
	for k := range 100 {
		recordStatusEvent(w, title(fmt.Sprintf("%dms", 500*k), fmt.Sprintf("title %d", k)))
		recordStatusEvent(w, viewerStatusEvent(viewers(at(fmt.Sprintf("%dms", 500*k+1)), int64(k), 1), at(fmt.Sprintf("%dms", 500*k+1))))
	}
	recordStatusEvent(w, title("10s", "older, read late")) // superseded by a later title change
	recordStatusEvent(w, metaStatusEvent(schemas.StreamMeta{EventType: schemas.TitleChange, Title: "t", Category: "c", Timestamp: at("20s")}, at("20s")))
	var got []string
	for _, ev := range w.StatusEvents {
		got = append(got, fmt.Sprintf("%s@%s", ev.EventType, ev.At.AsTime().Sub(t0)))
	}
	if want := "title_change@20s title_change@49.5s viewers@49.501s"; fmt.Sprint(strings.Join(got, " ")) != want {
		t.Fatalf("kept %v, want %s", got, want)
	}
	s := table.AdvanceStatus(&pb.StreamStatus{}, w)
	if s.Title != "title 99" || s.Category != "c" || s.Viewers != 99 {
		t.Fatalf("status %v", s)
	}
}
