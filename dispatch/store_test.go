package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
)

var backends = []struct {
	name string
	open func(testing.TB) *store.DB
}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}

func migrated(t *testing.T, open func(testing.TB) *store.DB) *dispatch.Store {
	db := open(t)
	if _, err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return dispatch.New(db)
}

const fence = `{"type":"Feature","geometry":{"type":"Point","coordinates":[3.7,51.05]},"properties":{"radius_m":80}}`

// TestStoreBackends runs the store through both state store backends.
func TestStoreBackends(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := migrated(t, b.open)
			for _, c := range []string{"a", "b"} {
				if _, err := s.CreateCustomer(ctx, dispatch.Customer{ID: c, Name: c}); err != nil {
					t.Fatal(err)
				}
				st, err := s.CreateSite(ctx, dispatch.Site{ID: "site-" + c, Name: c, Kind: dispatch.SiteCustomerSite, CustomerID: c, Geofence: json.RawMessage(fence)})
				if err != nil {
					t.Fatal(err)
				}
				if st.Location != [2]float64{3.7, 51.05} {
					t.Fatalf("location %v", st.Location)
				}
				for i := 0; i < 3; i++ {
					if _, err := s.CreateBin(ctx, dispatch.Bin{ID: fmt.Sprintf("bin-%s-%d", c, i), SiteID: st.ID, Material: "paper", EWCCode: "15 01 01", VolumeL: 240}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := s.CreateCustomer(ctx, dispatch.Customer{ID: "a", Name: "again"}); !errors.Is(err, revloop.ErrConflict) {
				t.Fatalf("duplicate customer: %v", err)
			}
			// Scope and pagination over the joined bins query.
			var all []string
			page := dispatch.Page{Limit: 2}
			for {
				bins, next, err := s.ListBins(ctx, dispatch.Scope{CustomerID: "b"}, dispatch.BinFilter{}, page)
				if err != nil {
					t.Fatal(err)
				}
				for _, bn := range bins {
					if bn.CustomerID != "b" {
						t.Fatalf("scope leak: %+v", bn)
					}
					all = append(all, bn.ID)
				}
				if next == "" {
					break
				}
				page.After = next
			}
			if fmt.Sprint(all) != "[bin-b-0 bin-b-1 bin-b-2]" {
				t.Fatalf("bins %v", all)
			}
			if _, err := s.Bin(ctx, dispatch.Scope{CustomerID: "a"}, "bin-b-0"); !errors.Is(err, revloop.ErrNotFound) {
				t.Fatalf("other customer's bin: %v", err)
			}
			// Pickup life cycle with history.
			t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			p, err := s.CreatePickup(ctx, dispatch.Scope{CustomerID: "a"}, dispatch.Pickup{SiteID: "site-a", Material: "paper", WindowFrom: t0, WindowTo: t0.Add(4 * time.Hour)}, "customer:t1")
			if err != nil {
				t.Fatal(err)
			}
			if p.CustomerID != "a" || p.Status != dispatch.PickupRequested || p.Priority != 3 || !p.WindowFrom.Equal(t0) {
				t.Fatalf("pickup %+v", p)
			}
			if _, err := s.CreatePickup(ctx, dispatch.Scope{CustomerID: "a"}, dispatch.Pickup{SiteID: "site-b", Material: "paper", WindowFrom: t0, WindowTo: t0.Add(time.Hour)}, "x"); !errors.Is(err, revloop.ErrInvalid) {
				t.Fatalf("pickup at another customer's site: %v", err)
			}
			if _, err := s.TransitionPickup(ctx, dispatch.All, p.ID, dispatch.PickupPlanned, "route 7", "dispatcher:t2"); err != nil {
				t.Fatal(err)
			}
			_, err = s.TransitionPickup(ctx, dispatch.All, p.ID, dispatch.PickupDelivered, "", "dispatcher:t2")
			var te *revloop.TransitionError
			if !errors.As(err, &te) || te.From != dispatch.PickupPlanned || len(te.Allowed) != 4 {
				t.Fatalf("illegal transition: %v", err)
			}
			if _, err := s.TransitionPickup(ctx, dispatch.Scope{CustomerID: "b"}, p.ID, dispatch.PickupCancelled, "", "customer:t3"); !errors.Is(err, revloop.ErrNotFound) {
				t.Fatalf("other customer's transition: %v", err)
			}
			got, err := s.Pickup(ctx, dispatch.All, p.ID)
			if err != nil || len(got.History) != 2 || got.History[1].Note != "route 7" || got.History[1].Actor != "dispatcher:t2" {
				t.Fatalf("history %+v %v", got.History, err)
			}
			// Complaints.
			c, err := s.CreateComplaint(ctx, dispatch.Scope{CustomerID: "a"}, dispatch.Complaint{SubjectKind: "pickup", SubjectRef: p.ID, Text: "late"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ResolveComplaint(ctx, c.ID, "apologised"); err != nil {
				t.Fatal(err)
			}
			open, _, err := s.ListComplaints(ctx, dispatch.All, dispatch.ComplaintFilter{Open: "true"}, dispatch.Page{})
			if err != nil || len(open) != 0 {
				t.Fatalf("open complaints %v %v", open, err)
			}
			// Deletes guarded by references.
			if err := s.DeleteSite(ctx, "site-a"); !errors.Is(err, revloop.ErrConflict) {
				t.Fatalf("delete site with bins: %v", err)
			}
			if err := s.DeleteBin(ctx, "bin-a-0"); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteBin(ctx, "bin-a-0"); !errors.Is(err, revloop.ErrNotFound) {
				t.Fatalf("delete twice: %v", err)
			}
			// Vehicles and the bulk import.
			vs := []dispatch.Vehicle{{ID: "v1", Plate: "p1", CapacityKg: 1e4, CapacityM3: 20, FuelType: "cng", ConsumptionPer100Km: 30, TrackerDeviceID: "trk-1"}}
			if err := s.ImportVehicles(ctx, vs); err != nil {
				t.Fatal(err)
			}
			if err := s.ImportVehicles(ctx, vs); err != nil { // replaces
				t.Fatal(err)
			}
			v, err := s.Vehicle(ctx, "v1")
			if err != nil || v.Plate != "P1" || v.ConsumptionUnit != "kg" {
				t.Fatalf("vehicle %+v %v", v, err)
			}
			fc, err := s.BinsGeoJSON(ctx, dispatch.Scope{CustomerID: "a"}, dispatch.BinFilter{}, nil)
			var parsed struct{ Features []any }
			if err != nil || json.Unmarshal(fc, &parsed) != nil || len(parsed.Features) != 2 {
				t.Fatalf("bins geojson %s %v", fc, err)
			}
		})
	}
}

func TestSeedWorld(t *testing.T) {
	ctx := context.Background()
	s := migrated(t, storetest.SQLite)
	f, err := os.Open("testdata/world.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := dispatch.ReadWorld(f)
	if err != nil {
		t.Fatal(err)
	}
	for round, wantCreated := range []bool{true, false} { // seeding twice replaces
		counts, err := s.Seed(ctx, w, nil)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i, want := range []int{len(w.Customers), len(w.Sites), len(w.Bins), len(w.Vehicles)} {
			got := counts[i].Updated
			if wantCreated {
				got = counts[i].Created
			}
			if got != want || want == 0 {
				t.Fatalf("round %d: %v, want %d", round, counts[i], want)
			}
		}
	}
	sites, err := s.AllSites(ctx)
	if err != nil || len(sites) != len(w.Sites) || len(sites[0].Geofence) == 0 {
		t.Fatalf("sites %d %v", len(sites), err)
	}
	vs, err := s.AllVehicles(ctx)
	if err != nil || len(vs) != len(w.Vehicles) || vs[0].TrackerDeviceID == "" {
		t.Fatalf("vehicles %+v %v", vs, err)
	}
	bins, _, err := s.ListBins(ctx, dispatch.All, dispatch.BinFilter{}, dispatch.Page{Limit: 1000})
	if err != nil || len(bins) != len(w.Bins) || bins[0].VolumeL < 100 || bins[0].FillSensorDeviceID == "" {
		t.Fatalf("bins %+v %v", bins[:1], err)
	}
	if _, err := dispatch.ReadWorld(strings.NewReader(`{"sites": 3}`)); !errors.Is(err, revloop.ErrInvalid) {
		t.Fatalf("bad world: %v", err)
	}
}
