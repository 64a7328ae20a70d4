package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/paulmach/orb"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/geo"
)

// Site kinds of the world.
const (
	SiteYard         = "yard"
	SiteDepot        = "depot"
	SiteDropPoint    = "drop_point"
	SiteCustomerSite = "customer_site"
)

// Device kinds, as in the registry.
const (
	KindTracker    = "tracker"
	KindBinSensor  = "bin_sensor"
	KindGateReader = "gate_reader"
	KindScale      = "scale"
)

// Payload formats devices of the world use.
const (
	FormatJSON   = "json"    // JSON object or array (ts RFC 3339)
	FormatJSONMs = "json_ms" // JSON object or array (ts Unix milliseconds)
	FormatNMEA   = "nmea"    // NMEA 0183 RMC+GGA text
	FormatSenML  = "senml"   // SenML JSON pack
	FormatLwM2M  = "lwm2m"   // SenML pack of LwM2M object 3435 resources
)

// Antenna sides of a gate reader.
const (
	SideOutside = 1
	SideInside  = 2
)

// Loc is the local time zone of the world (Belgium, fixed CET offset so the
// simulation does not depend on the host's zone database).
var Loc = time.FixedZone("CET", 3600)

// World is the static description of a simulated operation around Ghent
// (Belgium): a yard with a gate reader and a weighbridge, depots, drop points
// and customer sites with fences, bins with fill sensors and vehicles with
// trackers and RFID tags. It is what --world-out writes.
type World struct {
	Seed      int64       `json:"seed"`
	City      string      `json:"city"`
	Center    orb.Point   `json:"center"`
	Timezone  string      `json:"timezone"`
	Customers []*Customer `json:"customers"`
	Sites     []*Site     `json:"sites"`
	Bins      []*Bin      `json:"bins"`
	Vehicles  []*Vehicle  `json:"vehicles"`
	Gates     []*Gate     `json:"gates"`
	Scales    []*Scale    `json:"scales"`
	Devices   []*Device   `json:"devices"`
	DeadZones []*DeadZone `json:"dead_zones"`

	sites map[string]*Site
}

// Customer owns sites.
type Customer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"` // municipality, retailer, producer
}

// Site is a yard, depot, drop point or customer site with its geofence.
type Site struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	Customer string     `json:"customer,omitempty"`
	Location orb.Point  `json:"location"` // [lon, lat]
	Fence    *geo.Fence `json:"fence"`    // GeoJSON feature
	Address  string     `json:"address,omitempty"`
}

// Material is a waste stream with its EWC code and loose bulk density.
type Material struct {
	Name          string  `json:"name"`
	EWC           string  `json:"ewc"`
	DensityKgM3   float64 `json:"density_kg_m3"`
	RatePctPerH   float64 `json:"-"`
	WeekdayFactor [7]float64
}

var materials = []Material{
	{"glass", "15 01 07", 300, 0.30, [7]float64{1.6, 1.3, 0.8, 0.8, 0.8, 0.9, 1.4}},
	{"paper", "15 01 01", 80, 0.55, [7]float64{1.2, 1.1, 0.9, 0.9, 0.9, 1.0, 1.3}},
	{"pmd", "15 01 06", 35, 0.75, [7]float64{1.3, 1.2, 0.9, 0.9, 0.9, 1.0, 1.2}},
	{"textile", "20 01 11", 150, 0.18, [7]float64{1.4, 0.9, 0.9, 0.9, 0.9, 1.0, 1.5}},
	{"weee", "20 01 36", 220, 0.10, [7]float64{0.4, 1.1, 1.1, 1.1, 1.1, 1.2, 1.5}},
	{"wood", "15 01 03", 160, 0.25, [7]float64{0.5, 1.1, 1.1, 1.1, 1.1, 1.1, 1.4}},
}

// Bin is a container at a site, with a fill sensor and an RFID tag.
type Bin struct {
	ID          string           `json:"id"`
	Site        string           `json:"site"`
	Material    string           `json:"material"`
	EWC         string           `json:"ewc"`
	VolumeM3    float64          `json:"volume_m3"`
	DepthMm     float64          `json:"depth_mm"`
	DensityKgM3 float64          `json:"density_kg_m3"`
	EPC         string           `json:"rfid_epc"`
	Sensor      revloop.DeviceID `json:"sensor"`
	Format      string           `json:"sensor_format"`
	ReportEvery Duration         `json:"report_every"`
	// Batch is how many readings the sensor packs into one message (1 = single object).
	Batch int `json:"batch"`
	// Fill is the bin's true filling model (ground truth).
	Fill *FillModel `json:"fill_model"`
}

// Vehicle is a collection truck.
type Vehicle struct {
	ID                  string           `json:"id"`
	Plate               string           `json:"plate"`
	Depot               string           `json:"depot"`
	CapacityKg          float64          `json:"capacity_kg"`
	CapacityM3          float64          `json:"capacity_m3"`
	TareKg              float64          `json:"tare_kg"`
	FuelType            string           `json:"fuel_type"`
	ConsumptionPer100Km float64          `json:"consumption_per_100km"`
	ConsumptionUnit     string           `json:"consumption_unit"` // l, kg, kWh
	Tracker             revloop.DeviceID `json:"tracker"`
	TrackerFormat       string           `json:"tracker_format"`
	FixEvery            Duration         `json:"fix_every"`
	EPC                 string           `json:"rfid_epc"`
}

// Antenna is one antenna of a gate reader and the side of the gate it faces.
type Antenna struct {
	Antenna int    `json:"antenna"`
	Side    int    `json:"side"` // 1 outside, 2 inside
	Name    string `json:"side_name"`
}

// Gate is an RFID gate reader at the yard entrance.
type Gate struct {
	ID       string           `json:"id"`
	Device   revloop.DeviceID `json:"device"`
	Site     string           `json:"site"`
	Location orb.Point        `json:"location"`
	Antennas []Antenna        `json:"antennas"`
	// Outside and Inside are points on the approach road and in the yard.
	Outside orb.Point `json:"outside"`
	Inside  orb.Point `json:"inside"`
}

// Scale is a weighbridge.
type Scale struct {
	ID           string           `json:"id"`
	Device       revloop.DeviceID `json:"device"`
	Site         string           `json:"site"`
	Location     orb.Point        `json:"location"`
	MaxKg        float64          `json:"max_kg"`
	ResolutionKg float64          `json:"resolution_kg"`
}

// Device is one entry for the device registry.
type Device struct {
	ID         revloop.DeviceID `json:"id"`
	Kind       string           `json:"kind"`
	AttachedTo string           `json:"attached_to"`
	Firmware   string           `json:"firmware"`
}

// DeadZone is an area without mobile coverage: trackers buffer their fixes
// there and publish them as one JSON array when coverage returns.
type DeadZone struct {
	Name    string    `json:"name"`
	Center  orb.Point `json:"center"`
	RadiusM float64   `json:"radius_m"`
}

// Duration is a time.Duration that encodes as a Go duration string.
type Duration time.Duration

// MarshalJSON encodes d like "15m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON decodes a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

var districts = []string{
	"Korenmarkt", "Dampoort", "Sint-Pieters", "Muide", "Ledeberg", "Gentbrugge",
	"Mariakerke", "Drongen", "Sint-Amandsberg", "Wondelgem", "Oostakker", "Zwijnaarde",
	"Sint-Denijs-Westrem", "Merelbeke", "Brugse Poort", "Rabot", "Watersportbaan",
	"Blaarmeersen", "Citadelpark", "Overpoort", "Bijloke", "Moscou", "Nieuw Gent", "Tondelier",
}

var streets = []string{
	"Kortrijksesteenweg", "Brusselsesteenweg", "Antwerpsesteenweg", "Oudenaardsesteenweg",
	"Drongensesteenweg", "Land van Waaslaan", "Dendermondsesteenweg", "Sint-Salvatorstraat",
	"Frans Rooseveltlaan", "Kouter", "Coupure Links", "Nieuwewandeling", "Voskenslaan",
	"Bevrijdingslaan", "Tolhuislaan", "Wiedauwkaai", "Kennedylaan", "Hundelgemsesteenweg",
}

// ghent is the center of the world (Korenmarkt, Ghent).
var ghent = orb.Point{3.7197, 51.0546}

func rngFor(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream*0x9e3779b97f4a7c15+1))
}

// NewWorld builds a deterministic world from seed with the given number of
// vehicles and bins (at least 1 each; bins are spread over drop points and
// customer sites, 1 to 4 per site).
func NewWorld(seed int64, vehicles, bins int) *World {
	vehicles = max(vehicles, 1)
	bins = max(bins, 1)
	r := rngFor(seed, 1)
	w := &World{Seed: seed, City: "Ghent, BE", Center: ghent, Timezone: "CET (UTC+01:00, fixed)", sites: map[string]*Site{}}
	w.Customers = []*Customer{
		{ID: "cust-city", Name: "City of Ghent", Kind: "municipality"},
		{ID: "cust-scheldt", Name: "Scheldt Supermarkets", Kind: "retailer"},
		{ID: "cust-leie", Name: "Leie Electronics", Kind: "retailer"},
		{ID: "cust-artevelde", Name: "Artevelde Packaging", Kind: "producer"},
	}

	// The yard sits in the port area north of the centre.
	yardC := orb.Point{3.7571, 51.0905}
	yard := w.addSite(&Site{ID: "yard-1", Name: "Ghent Port Recycling Yard", Kind: SiteYard, Location: yardC,
		Address: "Skaldenstraat 1, 9042 Gent"}, rectFence("yard-1", yardC, 320, 220, 12))
	gateLoc := geo.Destination(yardC, 180+12, 110) // middle of the south side
	w.Gates = []*Gate{{
		ID: "gate-1", Device: "gate-yard-1", Site: yard.ID, Location: gateLoc,
		Antennas: []Antenna{{1, SideOutside, "outside"}, {2, SideInside, "inside"}},
		Outside:  geo.Destination(gateLoc, 180+12, 70),
		Inside:   geo.Destination(gateLoc, 12, 25),
	}}
	w.Scales = []*Scale{{ID: "scale-1", Device: "scale-yard-1", Site: yard.ID,
		Location: geo.Destination(gateLoc, 12+35, 55), MaxKg: 60000, ResolutionKg: 20}}

	depots := []orb.Point{{3.7302, 51.0812}, {3.7059, 51.0213}}
	for i, c := range depots {
		id := fmt.Sprintf("depot-%d", i+1)
		w.addSite(&Site{ID: id, Name: fmt.Sprintf("Depot %s", []string{"North", "South"}[i]), Kind: SiteDepot,
			Location: c}, rectFence(id, c, 140, 90, r.Float64()*90))
	}
	w.DeadZones = []*DeadZone{
		{Name: "Ledeberg underpass", Center: orb.Point{3.7425, 51.0380}, RadiusM: 350},
		{Name: "Port warehouses", Center: orb.Point{3.7795, 51.0745}, RadiusM: 400},
	}

	// Sites: roughly 2.5 bins per site.
	nSites := max(1, (bins*2+4)/5)
	var sites []*Site
	for i := 0; i < nSites; i++ {
		// Uniform in a disc of 7 km around the centre, at least 600 m from it.
		d := 600 + math.Sqrt(r.Float64())*6400
		c := geo.Destination(ghent, r.Float64()*360, d)
		dist := districts[r.IntN(len(districts))]
		st := streets[r.IntN(len(streets))]
		var s *Site
		if i%4 == 3 {
			id := fmt.Sprintf("cs-%03d", i+1)
			cust := w.Customers[1+r.IntN(3)]
			s = w.addSite(&Site{ID: id, Name: fmt.Sprintf("%s %s", cust.Name, dist), Kind: SiteCustomerSite, Customer: cust.ID,
				Location: c, Address: fmt.Sprintf("%s %d, Gent", st, 1+r.IntN(300))},
				rectFence(id, c, 50+r.Float64()*90, 40+r.Float64()*60, r.Float64()*180))
		} else {
			id := fmt.Sprintf("dp-%03d", i+1)
			f, _ := geo.NewCircleFence(id, c, 25+r.Float64()*35)
			f.MinDwell = 2 * time.Minute
			s = w.addSite(&Site{ID: id, Name: fmt.Sprintf("Drop point %s %d", dist, i+1), Kind: SiteDropPoint, Customer: "cust-city",
				Location: c, Address: fmt.Sprintf("%s %d, Gent", st, 1+r.IntN(300))}, f)
		}
		sites = append(sites, s)
	}
	volumes := []float64{1.1, 2.5, 3, 5}
	for i := 0; i < bins; i++ {
		s := sites[i%len(sites)]
		m := materials[r.IntN(len(materials))]
		if s.Kind == SiteCustomerSite && r.IntN(2) == 0 {
			m = materials[2+r.IntN(4)]
		}
		vol := volumes[r.IntN(len(volumes))]
		b := &Bin{
			ID: fmt.Sprintf("bin-%04d", i+1), Site: s.ID, Material: m.Name, EWC: m.EWC, VolumeM3: vol,
			DepthMm: math.Round(900 + vol*250), DensityKgM3: m.DensityKgM3,
			EPC:         fmt.Sprintf("E28011700000%04X%08X", uint16(seed), 0x10000000+uint32(i)),
			Sensor:      revloop.DeviceID(fmt.Sprintf("fill-%04d", i+1)),
			Format:      []string{FormatJSON, FormatJSON, FormatJSONMs, FormatJSON, FormatSenML, FormatLwM2M}[r.IntN(6)],
			ReportEvery: Duration([]time.Duration{15 * time.Minute, 30 * time.Minute, 30 * time.Minute, time.Hour}[r.IntN(4)]),
			Batch:       1,
		}
		if r.IntN(10) == 0 && b.Format != FormatLwM2M {
			b.Batch = 4 // an LPWAN gateway that forwards four readings at a time
		}
		rate := m.RatePctPerH * (0.6 + 0.8*r.Float64()) * 2.5 / vol
		b.Fill = &FillModel{BasePctPerH: rate, Weekday: m.WeekdayFactor, Hourly: hourlyProfile(m.Name), DayNoise: 0.12, Seed: uint64(seed)<<20 ^ uint64(i)}
		w.Bins = append(w.Bins, b)
		w.Devices = append(w.Devices, &Device{ID: b.Sensor, Kind: KindBinSensor, AttachedTo: b.ID, Firmware: "fill-1.8.2"})
	}
	fuels := []struct {
		fuel, unit string
		cons       float64
	}{{"diesel", "l", 38}, {"diesel", "l", 35}, {"cng", "kg", 30}, {"electric", "kWh", 130}}
	for i := 0; i < vehicles; i++ {
		f := fuels[r.IntN(len(fuels))]
		capKg := []float64{8000, 10000, 12000}[r.IntN(3)]
		v := &Vehicle{
			ID: fmt.Sprintf("veh-%02d", i+1), Plate: fmt.Sprintf("%d-%c%c%c-%03d", 1+r.IntN(2), 'A'+r.IntN(26), 'A'+r.IntN(26), 'A'+r.IntN(26), r.IntN(1000)),
			Depot: fmt.Sprintf("depot-%d", 1+i%len(depots)), CapacityKg: capKg, CapacityM3: capKg / 500,
			TareKg: 11000 + math.Round(r.Float64()*40)*100, FuelType: f.fuel, ConsumptionPer100Km: f.cons, ConsumptionUnit: f.unit,
			Tracker:       revloop.DeviceID(fmt.Sprintf("trk-%02d", i+1)),
			TrackerFormat: []string{FormatJSON, FormatJSON, FormatJSONMs, FormatJSON, FormatNMEA, FormatSenML}[i%6],
			FixEvery:      Duration(time.Duration(3+r.IntN(4)) * time.Second),
			EPC:           fmt.Sprintf("E28068940000%04X%08X", uint16(seed), 0x20000000+uint32(i)),
		}
		w.Vehicles = append(w.Vehicles, v)
		w.Devices = append(w.Devices, &Device{ID: v.Tracker, Kind: KindTracker, AttachedTo: v.ID, Firmware: "trk-2.4.1"})
	}
	for _, g := range w.Gates {
		w.Devices = append(w.Devices, &Device{ID: g.Device, Kind: KindGateReader, AttachedTo: g.ID, Firmware: "uhf-gate-5.2"})
	}
	for _, s := range w.Scales {
		w.Devices = append(w.Devices, &Device{ID: s.Device, Kind: KindScale, AttachedTo: s.ID, Firmware: "wb-3.0.7"})
	}
	return w
}

func (w *World) addSite(s *Site, f *geo.Fence) *Site {
	s.Fence = f
	w.Sites = append(w.Sites, s)
	w.sites[s.ID] = s
	return s
}

// Site returns the site with id, or nil.
func (w *World) Site(id string) *Site {
	if w.sites == nil {
		w.sites = map[string]*Site{}
		for _, s := range w.Sites {
			w.sites[s.ID] = s
		}
	}
	return w.sites[id]
}

// Bin returns the bin with id, or nil.
func (w *World) Bin(id string) *Bin {
	for _, b := range w.Bins {
		if b.ID == id {
			return b
		}
	}
	return nil
}

// WriteJSON writes the world as indented JSON.
func (w *World) WriteJSON(out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(w); err != nil {
		return fmt.Errorf("write world: %w", err)
	}
	return nil
}

// rectFence returns a rectangular polygon fence of widthM x heightM meters
// centred on c and rotated by rotDeg.
func rectFence(id string, c orb.Point, widthM, heightM, rotDeg float64) *geo.Fence {
	hw, hh := widthM/2, heightM/2
	corners := [][2]float64{{-hw, -hh}, {hw, -hh}, {hw, hh}, {-hw, hh}}
	ring := orb.Ring{}
	for _, xy := range corners {
		d := math.Hypot(xy[0], xy[1])
		brg := math.Atan2(xy[0], xy[1])*180/math.Pi + rotDeg
		ring = append(ring, geo.Destination(c, brg, d))
	}
	ring = append(ring, ring[0])
	f, err := geo.NewPolygonFence(id, orb.Polygon{ring})
	if err != nil {
		panic("sim: rectangle fence: " + err.Error()) // unreachable: inputs are generated
	}
	return f
}

func hourlyProfile(material string) [24]float64 {
	var h [24]float64
	for i := range h {
		switch {
		case i < 6 || i >= 22:
			h[i] = 0.15
		case i < 9:
			h[i] = 1.0
		case i < 18:
			h[i] = 1.45
		default:
			h[i] = 1.2
		}
	}
	// Normalise to a mean of 1 so BasePctPerH is the daily average rate.
	var s float64
	for _, v := range h {
		s += v
	}
	for i := range h {
		h[i] *= 24 / s
	}
	return h
}
