package nmea_test

import (
	"fmt"

	"github.com/revloop/revloop/firmware-bridge/drivers/nmea"
)

func ExampleParse() {
	v, err := nmea.Parse("$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76")
	if err != nil {
		fmt.Println(err)
		return
	}
	g := v.(*nmea.GGA)
	fmt.Printf("%.5f %.5f quality=%d sats=%d hdop=%.2f\n", g.Lat, g.Lon, g.Quality, g.Sats, g.HDOP)

	_, err = nmea.Parse("$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*00")
	fmt.Println(err)
	// Output:
	// 53.36134 -6.50562 quality=1 sats=8 hdop=1.03
	// nmea: checksum mismatch: computed 76, sentence says 00
}
