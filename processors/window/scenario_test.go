package window

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/telemetra/telemetra/schemas"
)

// TestScenarios runs the event-time scenarios in testdata/scenarios: each file feeds records to
// a Partition and lists what comes out (finals, late-event corrections, late events, dead
// letters, moments). docs/processors.md names the scenario behind each guarantee.
//
// Commands:
//
//	config [lateness=10s] [future=5m] [past=168h]     a new partition with this rule
//	read                                              one record per line (see parseRecord)
//	flush                                             the processor's flush: states and clock written
//	commit                                            offsets committed up to here
//	crash                                             restart from the last flush, redeliver from the last commit
//	open                                              the open windows and the frontier
//
// Times are HH:MM:SS[.mmm] on 2025-10-16 (UTC), or RFC 3339. A final reads
//
//	final CHANNEL WINDOW events=N chat=MESSAGES new=FIRST_TIME_CHATTERS/THEIR_MESSAGES viewers=SAMPLES tx=N late=N [live]
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		var d *driver
		offsets := map[string]int64{}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			if d == nil && td.Cmd != "config" {
				d = newDriver(newEngine(t))
			}
			switch td.Cmd {
			case "config":
				cfg := DefaultConfig()
				for _, arg := range td.CmdArgs {
					v, err := time.ParseDuration(arg.Vals[0])
					if err != nil {
						td.Fatalf(t, "%s: %v", arg.Key, err)
					}
					switch arg.Key {
					case "lateness":
						cfg.AllowedLateness = v
					case "future":
						cfg.MaxFutureSkew = v
					case "past":
						cfg.MaxPastSkew = v
					default:
						td.Fatalf(t, "unknown config %s", arg.Key)
					}
				}
				e, err := New(cfg)
				if err != nil {
					td.Fatalf(t, "%v", err)
				}
				d, offsets = newDriver(e), map[string]int64{}
				return "ok\n"
			case "read":
				for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
					if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					r, err := parseRecord(line, offsets)
					if err != nil {
						td.Fatalf(t, "%q: %v", line, err)
					}
					d.read(r)
				}
				return d.take()
			case "flush":
				d.flush()
				return "ok\n"
			case "commit":
				d.commit()
				return "ok\n"
			case "crash":
				d.crash()
				return d.take()
			case "open":
				d.open()
				return d.take()
			default:
				td.Fatalf(t, "unknown command %s", td.Cmd)
				return ""
			}
		})
	})
}

// parseRecord reads one record line:
//
//	chat    CHANNEL EVENT_TIME @ARRIVAL [USER]
//	viewers CHANNEL EVENT_TIME @ARRIVAL VIEWERS
//	tx      CHANNEL EVENT_TIME @ARRIVAL TYPE AMOUNT
//	meta    CHANNEL EVENT_TIME @ARRIVAL EVENT_TYPE [TITLE]
//	marker  TOPIC @ARRIVAL
//	garbage TOPIC @ARRIVAL          (a record that does not decode)
//
// Offsets count per topic from 0.
func parseRecord(line string, offsets map[string]int64) (record, error) {
	f := strings.Fields(line)
	kind := f[0]
	var r record
	var err error
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	stamp := func(i int) time.Time {
		if !strings.HasPrefix(arg(i), "@") {
			err = fmt.Errorf("field %d: want @ARRIVAL, got %q", i+1, arg(i))
			return time.Time{}
		}
		var t time.Time
		t, err = parseTime(arg(i)[1:])
		return t
	}
	switch kind {
	case "marker", "garbage":
		r = record{topic: arg(1), timestamp: stamp(2), marker: kind == "marker"}
	default:
		channel := arg(1)
		var et time.Time
		if et, err = parseTime(arg(2)); err != nil {
			return r, err
		}
		r.timestamp = stamp(3)
		switch kind {
		case "chat":
			user := arg(4)
			if user == "" {
				user = "viewer1"
			}
			r.topic, r.event = "chat", schemas.ChatMessage{Channel: channel, Username: user, Message: "gg", Timestamp: et}
		case "viewers":
			n, _ := strconv.ParseInt(arg(4), 10, 64)
			r.topic, r.event = "viewer", schemas.ViewerCount{Channel: channel, ViewerCount: n, Timestamp: et}
		case "tx":
			amount, _ := strconv.ParseFloat(arg(5), 64)
			r.topic, r.event = "transactions", schemas.Transaction{Channel: channel, TransactionType: schemas.TransactionType(arg(4)), Amount: amount, Timestamp: et}
		case "meta":
			r.topic, r.event = "stream_meta", schemas.StreamMeta{Channel: channel, EventType: schemas.StreamEventType(arg(4)), Title: arg(5), Timestamp: et}
		default:
			return r, fmt.Errorf("unknown record kind %q", kind)
		}
	}
	if err != nil {
		return r, err
	}
	r.offset = offsets[r.topic]
	offsets[r.topic]++
	return r, nil
}

var scenarioDay = time.Date(2025, 10, 16, 0, 0, 0, 0, time.UTC)

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"15:04:05.000", "15:04:05", "15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return scenarioDay.Add(t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want HH:MM[:SS[.mmm]] or RFC 3339", s)
}
