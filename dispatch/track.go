package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/revloop/revloop"
)

// TrackGeoJSON encodes a vehicle's fixes as a GeoJSON Feature with a
// LineString geometry; the fixes' times are in properties.times. A track of
// one fix is a Point; an empty track has a null geometry.
func TrackGeoJSON(v Vehicle, from, to time.Time, ps []revloop.Position) ([]byte, error) {
	coords := make([][2]float64, 0, len(ps))
	times := make([]string, 0, len(ps))
	for _, p := range ps {
		if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) {
			continue
		}
		coords = append(coords, [2]float64{round6(p.Lon), round6(p.Lat)})
		times = append(times, p.Time.UTC().Format(time.RFC3339Nano))
	}
	var geom any
	switch len(coords) {
	case 0:
	case 1:
		geom = map[string]any{"type": "Point", "coordinates": coords[0]}
	default:
		geom = map[string]any{"type": "LineString", "coordinates": coords}
	}
	f := map[string]any{
		"type": "Feature", "id": v.ID, "geometry": geom,
		"properties": map[string]any{
			"vehicle": v.ID, "plate": v.Plate, "device": v.TrackerDeviceID,
			"from": from.UTC().Format(time.RFC3339), "to": to.UTC().Format(time.RFC3339),
			"fixes": len(coords), "times": times,
		},
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("track geojson: %w", err)
	}
	return b, nil
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// TrackGPX encodes a vehicle's fixes as a GPX 1.1 document with one track.
func TrackGPX(v Vehicle, ps []revloop.Position) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<gpx version="1.1" creator="revloop" xmlns="http://www.topografix.com/GPX/1/1">` + "\n")
	b.WriteString("<trk><name>")
	xml.EscapeText(&b, []byte(strings.TrimSpace(v.Plate+" "+v.ID)))
	b.WriteString("</name><trkseg>\n")
	for _, p := range ps {
		if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) {
			continue
		}
		fmt.Fprintf(&b, `<trkpt lat="%.6f" lon="%.6f"><time>%s</time>`, p.Lat, p.Lon, p.Time.UTC().Format(time.RFC3339Nano))
		if !math.IsNaN(p.SpeedKmh) && p.SpeedKmh >= 0 {
			fmt.Fprintf(&b, `<extensions><speed_kmh>%.1f</speed_kmh></extensions>`, p.SpeedKmh)
		}
		b.WriteString("</trkpt>\n")
	}
	b.WriteString("</trkseg></trk>\n</gpx>\n")
	return b.Bytes()
}

// FillLookup gives the latest reading of a fill sensor.
type FillLookup interface {
	Fill(dev revloop.DeviceID) (revloop.FillReading, bool)
}

// MaxBinFeatures bounds BinsGeoJSON.
const MaxBinFeatures = 100000

// BinsGeoJSON encodes the bins of the scope as GeoJSON Point features at
// their site's location, with the current fill from fills (nil: none).
func (s *Store) BinsGeoJSON(ctx context.Context, sc Scope, f BinFilter, fills FillLookup) ([]byte, error) {
	w := binWhere(`SELECT b.id, b.site_id, s.customer_id, b.material, b.ewc_code, b.volume_l, b.fill_sensor_device_id, b.threshold_pct, s.lon, s.lat FROM bins b JOIN sites s ON s.id = b.site_id`, sc, f)
	rows, err := s.db.Query(ctx, w.Q+fmt.Sprintf(" ORDER BY b.id LIMIT %d", MaxBinFeatures), w.Args...)
	if err != nil {
		return nil, dbErr("bins geojson", err)
	}
	defer rows.Close()
	type feature struct {
		Type       string         `json:"type"`
		ID         string         `json:"id"`
		Geometry   map[string]any `json:"geometry"`
		Properties map[string]any `json:"properties"`
	}
	feats := []feature{}
	for rows.Next() {
		var id, site, cust, mat, ewc, dev string
		var vol, thr, lon, lat float64
		if err := rows.Scan(&id, &site, &cust, &mat, &ewc, &vol, &dev, &thr, &lon, &lat); err != nil {
			return nil, dbErr("bins geojson", err)
		}
		props := map[string]any{"bin": id, "site_id": site, "material": mat, "ewc_code": ewc, "volume_l": vol, "threshold_pct": thr}
		if cust != "" {
			props["customer_id"] = cust
		}
		if dev != "" {
			props["fill_sensor_device_id"] = dev
			if fills != nil {
				if r, ok := fills.Fill(revloop.DeviceID(dev)); ok {
					props["level_pct"] = finiteOrNil(r.LevelPct)
					props["fill_ts"] = r.Time.UTC().Format(time.RFC3339Nano)
					props["full"] = r.LevelPct >= thr
				}
			}
		}
		feats = append(feats, feature{Type: "Feature", ID: id,
			Geometry:   map[string]any{"type": "Point", "coordinates": [2]float64{lon, lat}},
			Properties: props})
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("bins geojson", err)
	}
	b, err := json.Marshal(map[string]any{"type": "FeatureCollection", "features": feats})
	if err != nil {
		return nil, fmt.Errorf("bins geojson: %w", err)
	}
	return b, nil
}

func finiteOrNil(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}
