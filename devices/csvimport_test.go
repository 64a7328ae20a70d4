package devices_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
)

const header = "id,kind,attached_kind,attached_id,labels,firmware\n"

func TestParseCSVBadRows(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		line  int
		field string
	}{
		{"empty file", "", 1, "header"},
		{"wrong header", "id,kind\n", 1, "header"},
		{"renamed column", "id,type,attached_kind,attached_id,labels,firmware\n", 1, "header"},
		{"malformed id", header + "Bad_ID,tracker,,,,\n", 2, "id"},
		{"id too long", header + strings.Repeat("a", 65) + ",tracker,,,,\n", 2, "id"},
		{"unknown kind", header + "ok-1,toaster,,,,\n", 2, "kind"},
		{"unknown attachment", header + "ok-1,tracker,boat,B1,,\n", 2, "attached_kind"},
		{"attachment without id", header + "ok-1,tracker,vehicle,,,\n", 2, "attached_id"},
		{"id without attachment", header + "ok-1,tracker,,V1,,\n", 2, "attached_kind"},
		{"bad labels", header + "ok-1,tracker,,,site,\n", 2, "labels"},
		{"bad label key", header + "ok-1,tracker,,,Site=x,\n", 2, "labels"},
		{"too few fields", header + "ok-1,tracker\n", 2, "row"},
		{"duplicate id", header + "ok-1,tracker,,,,\nok-2,scale,,,,\nok-1,scale,,,,\n", 4, "id"},
		{"bad quote", header + "ok-1,\"tracker,,,,\n", 2, "csv"},
		{"control character in firmware", header + "ok-1,tracker,,,,1.0\x01\n", 2, "firmware"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := devices.ParseCSV(strings.NewReader(c.in))
			var ie *devices.ImportError
			if !errors.As(err, &ie) || !errors.Is(err, revloop.ErrInvalid) {
				t.Fatalf("ParseCSV = %d rows, %v; want an ImportError", len(rows), err)
			}
			if ie.Rows[0].Line != c.line || ie.Rows[0].Field != c.field {
				t.Fatalf("first bad row = %+v, want line %d field %s", ie.Rows[0], c.line, c.field)
			}
		})
	}
}

func TestParseCSVReportsEveryBadRow(t *testing.T) {
	in := header + "ok-1,tracker,,,,\nBAD,tracker,,,,\nok-3,toaster,,,,\nok-4,scale,,,,\n\nok-6,gateway,,,k=v;k2=v2,\n"
	_, err := devices.ParseCSV(strings.NewReader(in))
	var ie *devices.ImportError
	if !errors.As(err, &ie) || len(ie.Rows) != 2 || ie.Rows[0].Line != 3 || ie.Rows[1].Line != 4 {
		t.Fatalf("ParseCSV = %v; want bad rows at lines 3 and 4", err)
	}
	rows, err := devices.ParseCSV(strings.NewReader("\uFEFF" + header + "ok-1,tracker,vehicle,V 1,site=n;zone=2,1.0\n\nok-6,gateway,,,,\n"))
	if err != nil || len(rows) != 2 || rows[1].Line != 4 || rows[0].Spec.Labels["zone"] != "2" || rows[0].Spec.Attached.ID != "V 1" {
		t.Fatalf("ParseCSV of good rows = %+v, %v", rows, err)
	}
}

func TestImportNothingHalfDone(t *testing.T) {
	ctx := context.Background()
	reg, db := testRegistry(t)
	addDevice(t, reg, "ok-2", "scale")
	rows, err := devices.ParseCSV(strings.NewReader(header + "ok-1,tracker,,,,\nok-2,scale,,,,\nok-3,scale,,,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Import(ctx, rows, nil)
	var ie *devices.ImportError
	if !errors.As(err, &ie) || len(ie.Rows) != 1 || ie.Rows[0].Line != 3 || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Import = %v; want line 3 already exists", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM devices`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d devices after the refused import, want 1", n)
	}
	var calls, last int
	creds, err := reg.Import(ctx, append(rows[:1], rows[2]), func(done, total int) { calls++; last = done })
	if err != nil || len(creds) != 2 || calls != 2 || last != 2 {
		t.Fatalf("Import = %v, %v; progress calls %d last %d", creds, err, calls, last)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add(header + "ok-1,tracker,vehicle,V1,site=n,1.0\n")
	f.Add(header + "\"a\nb\",tracker,,,,\n")
	f.Add("id,kind\n")
	f.Add(header + "ok-1,tracker,,,a=b;c=d;a=e,\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := devices.ParseCSV(strings.NewReader(in))
		if err != nil {
			var ie *devices.ImportError
			if !errors.As(err, &ie) || len(ie.Rows) == 0 {
				t.Fatalf("error %v is not an ImportError with rows", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if _, err := revloop.ParseDeviceID(r.Spec.ID); err != nil || seen[r.Spec.ID] {
				t.Fatalf("accepted bad or duplicate id %q", r.Spec.ID)
			}
			seen[r.Spec.ID] = true
			if _, err := devices.ParseKind(r.Spec.Kind); err != nil {
				t.Fatalf("accepted kind %q", r.Spec.Kind)
			}
		}
	})
}

func FuzzParseLabels(f *testing.F) {
	f.Add("a=b;c=d")
	f.Add("=x")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := devices.ParseLabels(in)
		if err != nil {
			return
		}
		back, err := devices.ParseLabels(devices.FormatLabels(m))
		if err != nil || len(back) != len(m) {
			t.Fatalf("labels %v do not round-trip: %v %v", m, back, err)
		}
	})
}
