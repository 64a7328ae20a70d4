package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/store"
)

// cheap keeps argon2 fast in tests; the parameters are read back from each
// hash, so nothing else changes.
var cheap = devices.Options{Argon2: devices.Argon2Params{MemoryKiB: 64, Time: 1}, MosquittoIterations: 10}

// Run is the state store contract: every backend passes it. open must return
// a fresh, empty, unmigrated database for each call.
func Run(t *testing.T, open func(testing.TB) *store.DB) {
	t.Run("migrations", func(t *testing.T) { testMigrations(t, open(t)) })
	t.Run("device repository", func(t *testing.T) { testDevices(t, Migrated(t, open)) })
	t.Run("uniqueness", func(t *testing.T) { testUniqueness(t, Migrated(t, open)) })
	t.Run("rollback", func(t *testing.T) { testRollback(t, Migrated(t, open)) })
	t.Run("import all or nothing", func(t *testing.T) { testImportAtomic(t, Migrated(t, open)) })
	t.Run("concurrent writers", func(t *testing.T) { testConcurrent(t, Migrated(t, open)) })
	t.Run("time round trip", func(t *testing.T) { testTimes(t, Migrated(t, open)) })
	t.Run("not found", func(t *testing.T) { testNotFound(t, Migrated(t, open)) })
}

func testMigrations(t *testing.T, db *store.DB) {
	ctx := context.Background()
	want, err := store.Migrations(db.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	applied, err := db.Migrate(ctx, func(m store.Migration) { seen = append(seen, m.Version) })
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if len(applied) != len(want) || len(seen) != len(want) {
		t.Fatalf("applied %v (progress %v), want %d migrations", applied, seen, len(want))
	}
	for i, m := range want {
		if applied[i] != m.Version {
			t.Fatalf("applied[%d] = %d, want %d (in version order)", i, applied[i], m.Version)
		}
	}
	again, err := db.Migrate(ctx, nil)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", again, err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(want))
	}
	for _, table := range []string{"devices", "device_health", "device_events", "device_configs", "device_claims"} {
		if _, err := db.Exec(ctx, `SELECT COUNT(*) FROM `+table); err != nil {
			t.Errorf("table %s after migrations: %v", table, err)
		}
	}
}

func testDevices(t *testing.T, db *store.DB) {
	ctx := context.Background()
	reg := devices.NewRegistry(db, nil, cheap)
	spec := devices.Spec{ID: "trk-001", Kind: "tracker", Attached: devices.Attachment{Kind: "vehicle", ID: "truck 7"},
		Labels: map[string]string{"site": "north", "fleet": "a"}, Firmware: "1.2.3"}
	d, cred, err := reg.Add(ctx, spec)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if cred.Secret == "" || d.State != devices.StateActive {
		t.Fatalf("Add = %+v, secret %q", d, cred.Secret)
	}
	got, err := reg.Get(ctx, "trk-001")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Kind != devices.KindTracker || got.Attached != spec.Attached || got.Labels["site"] != "north" ||
		got.Firmware != "1.2.3" || got.CredentialVersion != 1 {
		t.Fatalf("Get = %+v", got)
	}
	if err := reg.Authenticate(ctx, "trk-001", cred.Secret); err != nil {
		t.Fatalf("Authenticate with the issued secret: %v", err)
	}
	if err := reg.Authenticate(ctx, "trk-001", cred.Secret+"x"); !errors.Is(err, devices.ErrBadCredentials) {
		t.Fatalf("Authenticate with a wrong secret = %v, want ErrBadCredentials", err)
	}
	for _, s := range []devices.Spec{
		{ID: "bin-001", Kind: "bin_sensor", Attached: devices.Attachment{Kind: "bin", ID: "B1"}, Labels: map[string]string{"site": "north"}},
		{ID: "bin-002", Kind: "bin_sensor"},
		{ID: "gw-1", Kind: "gateway"},
	} {
		if _, _, err := reg.Add(ctx, s); err != nil {
			t.Fatalf("Add %s: %v", s.ID, err)
		}
	}
	cases := []struct {
		name string
		f    devices.Filter
		want []revloop.DeviceID
	}{
		{"all", devices.Filter{}, []revloop.DeviceID{"bin-001", "bin-002", "gw-1", "trk-001"}},
		{"kind", devices.Filter{Kind: devices.KindBinSensor}, []revloop.DeviceID{"bin-001", "bin-002"}},
		{"label", devices.Filter{Label: map[string]string{"site": "north"}}, []revloop.DeviceID{"bin-001", "trk-001"}},
		{"page", devices.Filter{After: "bin-002", Limit: 1}, []revloop.DeviceID{"gw-1"}},
	}
	for _, c := range cases {
		list, err := reg.List(ctx, c.f)
		if err != nil {
			t.Fatalf("List %s: %v", c.name, err)
		}
		var ids []revloop.DeviceID
		for _, d := range list {
			ids = append(ids, d.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(c.want) {
			t.Errorf("List %s = %v, want %v", c.name, ids, c.want)
		}
	}
	newCred, err := reg.Rotate(ctx, "trk-001")
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if err := reg.Authenticate(ctx, "trk-001", cred.Secret); !errors.Is(err, devices.ErrBadCredentials) {
		t.Fatalf("old secret after Rotate = %v, want ErrBadCredentials", err)
	}
	if err := reg.Authenticate(ctx, "trk-001", newCred.Secret); err != nil {
		t.Fatalf("new secret after Rotate: %v", err)
	}
	if err := reg.Disable(ctx, "trk-001"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Authenticate(ctx, "trk-001", newCred.Secret); !errors.Is(err, devices.ErrDisabled) {
		t.Fatalf("disabled device = %v, want ErrDisabled", err)
	}
	if err := reg.Revoke(ctx, "trk-001"); err != nil {
		t.Fatal(err)
	}
	var te *revloop.TransitionError
	if err := reg.Enable(ctx, "trk-001"); !errors.As(err, &te) || !errors.Is(err, revloop.ErrConflict) {
		t.Fatalf("Enable of a revoked device = %v, want a TransitionError", err)
	}
	if _, err := reg.Rotate(ctx, "trk-001"); !errors.Is(err, revloop.ErrConflict) {
		t.Fatalf("Rotate of a revoked device = %v, want ErrConflict", err)
	}
}

func testUniqueness(t *testing.T, db *store.DB) {
	ctx := context.Background()
	reg := devices.NewRegistry(db, nil, cheap)
	if _, _, err := reg.Add(ctx, devices.Spec{ID: "dup-1", Kind: "scale"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := reg.Add(ctx, devices.Spec{ID: "dup-1", Kind: "tracker"})
	if !errors.Is(err, devices.ErrExists) || !errors.Is(err, revloop.ErrConflict) {
		t.Fatalf("second Add of dup-1 = %v, want ErrExists", err)
	}
	_, err = db.Exec(ctx, `INSERT INTO settings (key, value, updated_ms) VALUES (?, ?, ?)`, "k", "v", 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(ctx, `INSERT INTO settings (key, value, updated_ms) VALUES (?, ?, ?)`, "k", "w", 2)
	if !store.IsUniqueViolation(err) {
		t.Fatalf("duplicate primary key: IsUniqueViolation(%v) = false", err)
	}
}

func testRollback(t *testing.T, db *store.DB) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value, updated_ms) VALUES (?, ?, ?)`, "rolled", "back", 1); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = ?`, "rolled").Scan(&n); err != nil || n != 1 {
			return fmt.Errorf("own write not visible inside the transaction: n=%d err=%v", n, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want the function's error", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = ?`, "rolled").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("rolled back row is visible (%d rows)", n)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO settings (key, value, updated_ms) VALUES (?, ?, ?)`, "kept", "yes", 1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = ?`, "kept").Scan(&n); err != nil || n != 1 {
		t.Fatalf("committed row: n=%d err=%v", n, err)
	}
}

func testImportAtomic(t *testing.T, db *store.DB) {
	ctx := context.Background()
	reg := devices.NewRegistry(db, nil, cheap)
	if _, _, err := reg.Add(ctx, devices.Spec{ID: "bin-050", Kind: "bin_sensor"}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("id,kind,attached_kind,attached_id,labels,firmware\n")
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&b, "bin-%03d,bin_sensor,bin,B%d,site=north,2.0\n", i, i)
	}
	rows, err := devices.ParseCSV(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("ParseCSV: %v", err)
	}
	_, err = reg.Import(ctx, rows, nil)
	var ie *devices.ImportError
	if !errors.As(err, &ie) || len(ie.Rows) != 1 || ie.Rows[0].Line != 52 || ie.Rows[0].Field != "id" {
		t.Fatalf("Import with an existing id = %v, want one bad row at line 52, field id", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM devices`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after a refused import there are %d devices (err %v), want 1", n, err)
	}
	creds, err := reg.Import(ctx, rows[:50], nil)
	if err != nil || len(creds) != 50 {
		t.Fatalf("Import of 50 new rows = %d, %v", len(creds), err)
	}
	if err := reg.Authenticate(ctx, creds[7].Device, creds[7].Secret); err != nil {
		t.Fatalf("imported device %s cannot authenticate: %v", creds[7].Device, err)
	}
}

func testConcurrent(t *testing.T, db *store.DB) {
	ctx := context.Background()
	reg := devices.NewRegistry(db, nil, cheap)
	if _, err := db.Exec(ctx, `INSERT INTO settings (key, value, updated_ms) VALUES ('counter', '0', 0)`); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, _, err := reg.Add(ctx, devices.Spec{ID: fmt.Sprintf("w%d-%d", w, i), Kind: "tracker"}); err != nil {
					errs <- err
				}
				err := db.InTx(ctx, func(tx *store.Tx) error {
					var v string
					if err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'counter'`).Scan(&v); err != nil {
						return err
					}
					var n int
					fmt.Sscan(v, &n)
					_, err := tx.Exec(ctx, `UPDATE settings SET value = ? WHERE key = 'counter'`, fmt.Sprint(n+1))
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM devices`).Scan(&n); err != nil || n != writers*each {
		t.Fatalf("devices after concurrent adds = %d (err %v), want %d", n, err, writers*each)
	}
	var v string
	if err := db.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'counter'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != fmt.Sprint(writers*each) {
		t.Fatalf("counter after %d read-modify-write transactions = %s (lost updates)", writers*each, v)
	}
}

func testTimes(t *testing.T, db *store.DB) {
	ctx := context.Background()
	at := time.Date(2026, 3, 29, 1, 59, 59, 987_654_321, time.FixedZone("CET", 3600))
	reg := devices.NewRegistry(db, nil, devices.Options{Argon2: cheap.Argon2, NoMosquittoHash: true, Now: func() time.Time { return at }})
	if _, _, err := reg.Add(ctx, devices.Spec{ID: "clock", Kind: "scale"}); err != nil {
		t.Fatal(err)
	}
	seen := time.Date(2038, 1, 19, 3, 14, 8, 1_000_000, time.UTC)
	if err := reg.TouchSeen(ctx, map[revloop.DeviceID]time.Time{"clock": seen}); err != nil {
		t.Fatal(err)
	}
	d, err := reg.Get(ctx, "clock")
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Truncate(time.Millisecond); !d.Created.Equal(want) || d.Created.Location() != time.UTC {
		t.Errorf("Created = %v, want %v in UTC", d.Created, want)
	}
	if !d.LastSeen.Equal(seen) {
		t.Errorf("LastSeen = %v, want %v", d.LastSeen, seen)
	}
	if err := reg.TouchSeen(ctx, map[revloop.DeviceID]time.Time{"clock": seen.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if d, _ := reg.Get(ctx, "clock"); !d.LastSeen.Equal(seen) {
		t.Errorf("an older last-seen time moved LastSeen back to %v", d.LastSeen)
	}
	var zero int64
	if err := db.QueryRow(ctx, `SELECT last_seen_ms FROM devices WHERE id = ?`, "clock").Scan(&zero); err != nil || zero != store.Millis(seen) {
		t.Errorf("stored last_seen_ms = %d (err %v), want %d", zero, err, store.Millis(seen))
	}
}

func testNotFound(t *testing.T, db *store.DB) {
	ctx := context.Background()
	reg := devices.NewRegistry(db, nil, cheap)
	if _, err := reg.Get(ctx, "nobody"); !errors.Is(err, revloop.ErrNotFound) {
		t.Errorf("Get of an unknown device = %v, want ErrNotFound", err)
	}
	if err := reg.Revoke(ctx, "nobody"); !errors.Is(err, devices.ErrUnknownDevice) {
		t.Errorf("Revoke of an unknown device = %v, want ErrUnknownDevice", err)
	}
	if err := reg.Authenticate(ctx, "nobody", "x"); !errors.Is(err, devices.ErrUnknownDevice) {
		t.Errorf("Authenticate of an unknown device = %v, want ErrUnknownDevice", err)
	}
}
