package dispatch

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// Store keeps the dispatch resources in the state store.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// New returns a Store over db (already migrated).
func New(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + "_" + idEncoding.EncodeToString(b)
}

// dbErr classifies a store error for op.
func dbErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case store.IsUniqueViolation(err):
		return fmt.Errorf("%s: %w: already exists", op, revloop.ErrConflict)
	case store.IsForeignKeyViolation(err):
		return fmt.Errorf("%s: %w: still referenced, or refers to something that does not exist", op, revloop.ErrConflict)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (s *Store) stamp() int64 { return store.Millis(s.now()) }

// list runs a paginated query: w selects the rows (its conditions joined
// by AND), idCol is the id column they are ordered and continued by.
func list[T any](ctx context.Context, q store.Querier, op string, w store.Where, idCol string, p Page, scan func(*sql.Rows) (T, error), id func(T) string) ([]T, string, error) {
	w.AfterID(p.After, idCol)
	query := w.Q + fmt.Sprintf(" ORDER BY %s LIMIT %d", idCol, p.limit()+1)
	rows, err := q.Query(ctx, query, w.Args...)
	if err != nil {
		return nil, "", dbErr(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", dbErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbErr(op, err)
	}
	next := ""
	if len(out) > p.limit() {
		out = out[:p.limit()]
		next = id(out[len(out)-1])
	}
	return out, next, nil
}

// ---- customers

const customerCols = `SELECT id, name, kind, email, created_ms, updated_ms FROM customers`

func scanCustomer(r interface{ Scan(...any) error }) (Customer, error) {
	var c Customer
	var cr, up int64
	err := r.Scan(&c.ID, &c.Name, &c.Kind, &c.Email, &cr, &up)
	c.Created, c.Updated = store.FromMillis(cr), store.FromMillis(up)
	return c, err
}

// CustomerFilter narrows ListCustomers.
type CustomerFilter struct{ Kind string }

// CreateCustomer stores a new customer; an empty id is generated.
func (s *Store) CreateCustomer(ctx context.Context, c Customer) (Customer, error) {
	if err := c.Validate(); err != nil {
		return Customer{}, err
	}
	if c.ID == "" {
		c.ID = newID("cus")
	}
	now := s.stamp()
	_, err := s.db.Exec(ctx, `INSERT INTO customers (id, name, kind, email, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Kind, c.Email, now, now)
	if err != nil {
		return Customer{}, dbErr("create customer", err)
	}
	return s.Customer(ctx, All, c.ID)
}

// Customer returns one customer.
func (s *Store) Customer(ctx context.Context, sc Scope, id string) (Customer, error) {
	if sc.restricted() && sc.CustomerID != id {
		return Customer{}, fmt.Errorf("customer %s: %w", id, store.ErrNotFound)
	}
	c, err := scanCustomer(s.db.QueryRow(ctx, customerCols+` WHERE id = ?`, id))
	return c, dbErr("customer "+id, err)
}

// ListCustomers returns a page of customers.
func (s *Store) ListCustomers(ctx context.Context, sc Scope, f CustomerFilter, p Page) ([]Customer, string, error) {
	w := store.Where{Q: customerCols + ` WHERE 1 = 1`}
	w.Eq("id", sc.CustomerID)
	w.Eq("kind", f.Kind)
	return list(ctx, s.db, "list customers", w, "id", p,
		func(r *sql.Rows) (Customer, error) { return scanCustomer(r) }, func(c Customer) string { return c.ID })
}

// UpdateCustomer replaces a customer's fields.
func (s *Store) UpdateCustomer(ctx context.Context, c Customer) (Customer, error) {
	if err := c.Validate(); err != nil {
		return Customer{}, err
	}
	res, err := s.db.Exec(ctx, `UPDATE customers SET name = ?, kind = ?, email = ?, updated_ms = ? WHERE id = ?`,
		c.Name, c.Kind, c.Email, s.stamp(), c.ID)
	if err := affected("update customer "+c.ID, res, err); err != nil {
		return Customer{}, err
	}
	return s.Customer(ctx, All, c.ID)
}

// DeleteCustomer removes a customer that no pickup or complaint refers to.
func (s *Store) DeleteCustomer(ctx context.Context, id string) error {
	return s.InTxDelete(ctx, "delete customer "+id, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM sites WHERE customer_id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: the customer still has %d sites", revloop.ErrConflict, n)
		}
		res, err := tx.Exec(ctx, `DELETE FROM customers WHERE id = ?`, id)
		return affected("", res, err)
	})
}

// InTxDelete runs a delete in a transaction and classifies its error.
func (s *Store) InTxDelete(ctx context.Context, op string, fn func(*store.Tx) error) error {
	err := s.db.InTx(ctx, fn)
	if err == nil {
		return nil
	}
	if errors.Is(err, revloop.ErrConflict) || errors.Is(err, revloop.ErrNotFound) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return dbErr(op, err)
}

func affected(op string, res sql.Result, err error) error {
	if err != nil {
		return dbErr(op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if op == "" {
			return store.ErrNotFound
		}
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}

// ---- sites

const siteCols = `SELECT id, name, kind, customer_id, address, lon, lat, geofence, created_ms, updated_ms FROM sites`

func scanSite(r interface{ Scan(...any) error }) (Site, error) {
	var st Site
	var fence string
	var cr, up int64
	err := r.Scan(&st.ID, &st.Name, &st.Kind, &st.CustomerID, &st.Address, &st.Location[0], &st.Location[1], &fence, &cr, &up)
	st.Geofence, st.Created, st.Updated = json.RawMessage(fence), store.FromMillis(cr), store.FromMillis(up)
	return st, err
}

// SiteFilter narrows ListSites.
type SiteFilter struct{ Kind, CustomerID string }

func (s *Store) checkCustomer(ctx context.Context, q store.Querier, field, id string) error {
	if id == "" {
		return nil
	}
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM customers WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return revloop.Invalid(field, "no customer %q", id)
	}
	return err
}

// CreateSite stores a new site; an empty id is generated.
func (s *Store) CreateSite(ctx context.Context, st Site) (Site, error) {
	if err := st.Validate(); err != nil {
		return Site{}, err
	}
	if err := s.checkCustomer(ctx, s.db, "customer_id", st.CustomerID); err != nil {
		return Site{}, dbErr("create site", err)
	}
	if st.ID == "" {
		st.ID = newID("site")
	}
	now := s.stamp()
	_, err := s.db.Exec(ctx, `INSERT INTO sites (id, name, kind, customer_id, address, lon, lat, geofence, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		st.ID, st.Name, st.Kind, st.CustomerID, st.Address, st.Location[0], st.Location[1], string(st.Geofence), now, now)
	if err != nil {
		return Site{}, dbErr("create site", err)
	}
	return s.Site(ctx, All, st.ID)
}

// Site returns one site.
func (s *Store) Site(ctx context.Context, sc Scope, id string) (Site, error) {
	q, args := siteCols+` WHERE id = ?`, []any{id}
	if sc.restricted() {
		q, args = q+` AND customer_id = ?`, append(args, sc.CustomerID)
	}
	st, err := scanSite(s.db.QueryRow(ctx, q, args...))
	return st, dbErr("site "+id, err)
}

// ListSites returns a page of sites.
func (s *Store) ListSites(ctx context.Context, sc Scope, f SiteFilter, p Page) ([]Site, string, error) {
	w := store.Where{Q: siteCols + ` WHERE 1 = 1`}
	w.Eq("customer_id", sc.CustomerID)
	w.Eq("kind", f.Kind)
	w.Eq("customer_id", f.CustomerID)
	return list(ctx, s.db, "list sites", w, "id", p,
		func(r *sql.Rows) (Site, error) { return scanSite(r) }, func(st Site) string { return st.ID })
}

// UpdateSite replaces a site's fields.
func (s *Store) UpdateSite(ctx context.Context, st Site) (Site, error) {
	if err := st.Validate(); err != nil {
		return Site{}, err
	}
	if err := s.checkCustomer(ctx, s.db, "customer_id", st.CustomerID); err != nil {
		return Site{}, dbErr("update site", err)
	}
	res, err := s.db.Exec(ctx, `UPDATE sites SET name = ?, kind = ?, customer_id = ?, address = ?, lon = ?, lat = ?, geofence = ?, updated_ms = ? WHERE id = ?`,
		st.Name, st.Kind, st.CustomerID, st.Address, st.Location[0], st.Location[1], string(st.Geofence), s.stamp(), st.ID)
	if err := affected("update site "+st.ID, res, err); err != nil {
		return Site{}, err
	}
	return s.Site(ctx, All, st.ID)
}

// DeleteSite removes a site without bins or pickups.
func (s *Store) DeleteSite(ctx context.Context, id string) error {
	return s.InTxDelete(ctx, "delete site "+id, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM bins WHERE site_id = ?) + (SELECT COUNT(*) FROM pickups WHERE site_id = ?)`, id, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: the site still has bins or pickup requests", revloop.ErrConflict)
		}
		res, err := tx.Exec(ctx, `DELETE FROM sites WHERE id = ?`, id)
		return affected("", res, err)
	})
}

// ---- vehicles

const vehicleCols = `SELECT id, plate, capacity_kg, capacity_m3, depot_site_id, fuel_type, consumption_per_100km, consumption_unit, tracker_device_id, rfid_tag, created_ms, updated_ms FROM vehicles`

func scanVehicle(r interface{ Scan(...any) error }) (Vehicle, error) {
	var v Vehicle
	var cr, up int64
	err := r.Scan(&v.ID, &v.Plate, &v.CapacityKg, &v.CapacityM3, &v.DepotSiteID, &v.FuelType, &v.ConsumptionPer100Km, &v.ConsumptionUnit, &v.TrackerDeviceID, &v.RFIDTag, &cr, &up)
	v.Created, v.Updated = store.FromMillis(cr), store.FromMillis(up)
	return v, err
}

// VehicleFilter narrows ListVehicles.
type VehicleFilter struct{ FuelType, DepotSiteID, TrackerDeviceID string }

func (s *Store) checkSite(ctx context.Context, q store.Querier, field, id string) (Site, error) {
	st, err := scanSite(q.QueryRow(ctx, siteCols+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Site{}, revloop.Invalid(field, "no site %q", id)
	}
	return st, err
}

// CreateVehicle stores a new vehicle; an empty id is generated.
func (s *Store) CreateVehicle(ctx context.Context, v Vehicle) (Vehicle, error) {
	if err := v.Validate(); err != nil {
		return Vehicle{}, err
	}
	if v.DepotSiteID != "" {
		if _, err := s.checkSite(ctx, s.db, "depot_site_id", v.DepotSiteID); err != nil {
			return Vehicle{}, dbErr("create vehicle", err)
		}
	}
	if v.ID == "" {
		v.ID = newID("veh")
	}
	now := s.stamp()
	_, err := s.db.Exec(ctx, `INSERT INTO vehicles (id, plate, capacity_kg, capacity_m3, depot_site_id, fuel_type, consumption_per_100km, consumption_unit, tracker_device_id, rfid_tag, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.Plate, v.CapacityKg, v.CapacityM3, v.DepotSiteID, v.FuelType, v.ConsumptionPer100Km, v.ConsumptionUnit, v.TrackerDeviceID, v.RFIDTag, now, now)
	if err != nil {
		return Vehicle{}, dbErr("create vehicle", err)
	}
	return s.Vehicle(ctx, v.ID)
}

// Vehicle returns one vehicle.
func (s *Store) Vehicle(ctx context.Context, id string) (Vehicle, error) {
	v, err := scanVehicle(s.db.QueryRow(ctx, vehicleCols+` WHERE id = ?`, id))
	return v, dbErr("vehicle "+id, err)
}

// ListVehicles returns a page of vehicles.
func (s *Store) ListVehicles(ctx context.Context, f VehicleFilter, p Page) ([]Vehicle, string, error) {
	w := store.Where{Q: vehicleCols + ` WHERE 1 = 1`}
	w.Eq("fuel_type", f.FuelType)
	w.Eq("depot_site_id", f.DepotSiteID)
	w.Eq("tracker_device_id", f.TrackerDeviceID)
	return list(ctx, s.db, "list vehicles", w, "id", p,
		func(r *sql.Rows) (Vehicle, error) { return scanVehicle(r) }, func(v Vehicle) string { return v.ID })
}

// AllVehicles returns every vehicle (for the live view's index).
func (s *Store) AllVehicles(ctx context.Context) ([]Vehicle, error) {
	rows, err := s.db.Query(ctx, vehicleCols+` ORDER BY id`)
	if err != nil {
		return nil, dbErr("all vehicles", err)
	}
	defer rows.Close()
	var out []Vehicle
	for rows.Next() {
		v, err := scanVehicle(rows)
		if err != nil {
			return nil, dbErr("all vehicles", err)
		}
		out = append(out, v)
	}
	return out, dbErr("all vehicles", rows.Err())
}

// UpdateVehicle replaces a vehicle's fields.
func (s *Store) UpdateVehicle(ctx context.Context, v Vehicle) (Vehicle, error) {
	if err := v.Validate(); err != nil {
		return Vehicle{}, err
	}
	if v.DepotSiteID != "" {
		if _, err := s.checkSite(ctx, s.db, "depot_site_id", v.DepotSiteID); err != nil {
			return Vehicle{}, dbErr("update vehicle", err)
		}
	}
	res, err := s.db.Exec(ctx, `UPDATE vehicles SET plate = ?, capacity_kg = ?, capacity_m3 = ?, depot_site_id = ?, fuel_type = ?, consumption_per_100km = ?, consumption_unit = ?, tracker_device_id = ?, rfid_tag = ?, updated_ms = ? WHERE id = ?`,
		v.Plate, v.CapacityKg, v.CapacityM3, v.DepotSiteID, v.FuelType, v.ConsumptionPer100Km, v.ConsumptionUnit, v.TrackerDeviceID, v.RFIDTag, s.stamp(), v.ID)
	if err := affected("update vehicle "+v.ID, res, err); err != nil {
		return Vehicle{}, err
	}
	return s.Vehicle(ctx, v.ID)
}

// DeleteVehicle removes a vehicle.
func (s *Store) DeleteVehicle(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM vehicles WHERE id = ?`, id)
	return affected("delete vehicle "+id, res, err)
}

// ---- bins

const binCols = `SELECT b.id, b.site_id, s.customer_id, b.material, b.ewc_code, b.volume_l, b.rfid_tag, b.fill_sensor_device_id, b.threshold_pct, b.created_ms, b.updated_ms FROM bins b JOIN sites s ON s.id = b.site_id`

func scanBin(r interface{ Scan(...any) error }) (Bin, error) {
	var b Bin
	var cr, up int64
	err := r.Scan(&b.ID, &b.SiteID, &b.CustomerID, &b.Material, &b.EWCCode, &b.VolumeL, &b.RFIDTag, &b.FillSensorDeviceID, &b.ThresholdPct, &cr, &up)
	b.Created, b.Updated = store.FromMillis(cr), store.FromMillis(up)
	return b, err
}

// BinFilter narrows ListBins.
type BinFilter struct{ SiteID, Material string }

// CreateBin stores a new bin at a site of the scope; an empty id is generated.
func (s *Store) CreateBin(ctx context.Context, b Bin) (Bin, error) {
	if err := b.Validate(); err != nil {
		return Bin{}, err
	}
	if _, err := s.checkSite(ctx, s.db, "site_id", b.SiteID); err != nil {
		return Bin{}, dbErr("create bin", err)
	}
	if b.ID == "" {
		b.ID = newID("bin")
	}
	now := s.stamp()
	_, err := s.db.Exec(ctx, `INSERT INTO bins (id, site_id, material, ewc_code, volume_l, rfid_tag, fill_sensor_device_id, threshold_pct, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.SiteID, b.Material, b.EWCCode, b.VolumeL, b.RFIDTag, b.FillSensorDeviceID, b.ThresholdPct, now, now)
	if err != nil {
		return Bin{}, dbErr("create bin", err)
	}
	return s.Bin(ctx, All, b.ID)
}

// Bin returns one bin.
func (s *Store) Bin(ctx context.Context, sc Scope, id string) (Bin, error) {
	q, args := binCols+` WHERE b.id = ?`, []any{id}
	if sc.restricted() {
		q, args = q+` AND s.customer_id = ?`, append(args, sc.CustomerID)
	}
	b, err := scanBin(s.db.QueryRow(ctx, q, args...))
	return b, dbErr("bin "+id, err)
}

// binWhere selects from base (bins b joined with their sites s) the bins
// of the scope that pass f.
func binWhere(base string, sc Scope, f BinFilter) store.Where {
	w := store.Where{Q: base + ` WHERE 1 = 1`}
	w.Eq("s.customer_id", sc.CustomerID)
	w.Eq("b.site_id", f.SiteID)
	w.Eq("b.material", f.Material)
	return w
}

// ListBins returns a page of bins.
func (s *Store) ListBins(ctx context.Context, sc Scope, f BinFilter, p Page) ([]Bin, string, error) {
	return list(ctx, s.db, "list bins", binWhere(binCols, sc, f), "b.id", p,
		func(r *sql.Rows) (Bin, error) { return scanBin(r) }, func(b Bin) string { return b.ID })
}

// UpdateBin replaces a bin's fields.
func (s *Store) UpdateBin(ctx context.Context, b Bin) (Bin, error) {
	if err := b.Validate(); err != nil {
		return Bin{}, err
	}
	if _, err := s.checkSite(ctx, s.db, "site_id", b.SiteID); err != nil {
		return Bin{}, dbErr("update bin", err)
	}
	res, err := s.db.Exec(ctx, `UPDATE bins SET site_id = ?, material = ?, ewc_code = ?, volume_l = ?, rfid_tag = ?, fill_sensor_device_id = ?, threshold_pct = ?, updated_ms = ? WHERE id = ?`,
		b.SiteID, b.Material, b.EWCCode, b.VolumeL, b.RFIDTag, b.FillSensorDeviceID, b.ThresholdPct, s.stamp(), b.ID)
	if err := affected("update bin "+b.ID, res, err); err != nil {
		return Bin{}, err
	}
	return s.Bin(ctx, All, b.ID)
}

// DeleteBin removes a bin.
func (s *Store) DeleteBin(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM bins WHERE id = ?`, id)
	return affected("delete bin "+id, res, err)
}

// ImportVehicles creates or replaces many vehicles in one transaction (for
// seeding and benchmarks); each is validated like CreateVehicle.
func (s *Store) ImportVehicles(ctx context.Context, vs []Vehicle) error {
	for i := range vs {
		if err := vs[i].Validate(); err != nil {
			return fmt.Errorf("import vehicle %d (%s): %w", i, vs[i].ID, err)
		}
		if vs[i].ID == "" {
			vs[i].ID = newID("veh")
		}
	}
	now := s.stamp()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, v := range vs {
			if _, err := tx.Exec(ctx, `DELETE FROM vehicles WHERE id = ?`, v.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vehicles (id, plate, capacity_kg, capacity_m3, depot_site_id, fuel_type, consumption_per_100km, consumption_unit, tracker_device_id, rfid_tag, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				v.ID, v.Plate, v.CapacityKg, v.CapacityM3, v.DepotSiteID, v.FuelType, v.ConsumptionPer100Km, v.ConsumptionUnit, v.TrackerDeviceID, v.RFIDTag, now, now); err != nil {
				return err
			}
		}
		return nil
	})
	return dbErr("import vehicles", err)
}

// FillSensors lists the fill sensor device ids of every bin.
func (s *Store) FillSensors(ctx context.Context) ([]revloop.DeviceID, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT fill_sensor_device_id FROM bins WHERE fill_sensor_device_id <> '' ORDER BY fill_sensor_device_id`)
	if err != nil {
		return nil, dbErr("fill sensors", err)
	}
	defer rows.Close()
	var out []revloop.DeviceID
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, dbErr("fill sensors", err)
		}
		out = append(out, revloop.DeviceID(d))
	}
	return out, dbErr("fill sensors", rows.Err())
}

// AllSites returns every site with its geofence, for code that evaluates
// fences (geofence events) rather than pages through them.
func (s *Store) AllSites(ctx context.Context) ([]Site, error) {
	rows, err := s.db.Query(ctx, siteCols+` ORDER BY id`)
	if err != nil {
		return nil, dbErr("all sites", err)
	}
	defer rows.Close()
	var out []Site
	for rows.Next() {
		st, err := scanSite(rows)
		if err != nil {
			return nil, dbErr("all sites", err)
		}
		out = append(out, st)
	}
	return out, dbErr("all sites", rows.Err())
}
