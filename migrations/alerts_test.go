package migrations

import (
	"strings"
	"testing"

	"github.com/telemetra/telemetra/internal/pgtest"
)

// TestTheAlertsSchemaIsItsOwn: the alerting migrations build their tables in their own schema,
// beside the projection's, and a second run changes nothing.
func TestTheAlertsSchemaIsItsOwn(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.Database(t))
	if _, err := Apply(ctx, conn, "public", nil); err != nil {
		t.Fatal(err)
	}
	all, err := Alerts()
	if err != nil || len(all) == 0 {
		t.Fatalf("embedded alert migrations: %v, %v", all, err)
	}
	done, err := ApplyAlerts(ctx, conn, DefaultAlertsSchema, nil)
	if err != nil || len(done) != len(all) {
		t.Fatalf("applied %d of %d alert migrations: %v", len(done), len(all), err)
	}
	if got, want := strings.Join(tables(t, conn, DefaultAlertsSchema), ","),
		"alert_attempts,alert_deliveries,alert_offsets,alert_subscriptions,schema_migrations"; got != want {
		t.Errorf("alert tables %s, want %s", got, want)
	}
	if got := strings.Join(tables(t, conn, "public"), ","); strings.Contains(got, "alert_") {
		t.Errorf("alert tables in the projection's schema: %s", got)
	}
	if done, err := ApplyAlerts(ctx, conn, DefaultAlertsSchema, nil); err != nil || len(done) != 0 {
		t.Fatalf("second run applied %v, err %v", done, err)
	}
}
