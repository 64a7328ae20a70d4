package ingest_test

import (
	"fmt"
	"time"

	"github.com/revloop/revloop/ingest"
)

func ExampleDecode() {
	received := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	rec, err := ingest.Decode("revloop/v1/truck-07/gps",
		[]byte(`{"ts":"2026-03-03T07:59:58Z","lat":51.0543,"lon":3.7174,"speed_kmh":32.5}`), received)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := rec.Positions[0]
	fmt.Println(rec.Device, rec.Channel, p.Time.Format(time.RFC3339), p.Lat, p.Lon, p.SpeedKmh)
	// Output: truck-07 gps 2026-03-03T07:59:58Z 51.0543 3.7174 32.5
}

func ExampleValidate() {
	received := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	rec, _ := ingest.Decode("revloop/v1/bin-12/fill", []byte(`{"ts":1772524800000,"level_pct":250}`), received)
	err := ingest.Validate(&rec, received, ingest.Limits{})
	reason, detail := ingest.ReasonOf(err)
	fmt.Println(reason, "-", detail)
	// Output: out_of_range - level_pct 250 outside 0..100
}

func ExampleDecode_nmea() {
	// The checksum was garbled on the way.
	received := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	payload := "$GPRMC,075959.00,A,5103.2580,N,00343.0440,E,17.5,90.0,030326,,,A*6C\r\n"
	_, err := ingest.Decode("revloop/v1/truck-07/gps", []byte(payload), received)
	fmt.Println(err)
	// Output: bad_checksum: NMEA: checksum 6C, computed 5B
}
