// Package sim simulates the sensors the bridge drives, at the bus level: an
// I2C bus with SRF02 and MCP9808 chips answering from their register maps, a
// Chafon UHF reader answering inventory frames over a conn.Conn, a GNSS
// receiver streaming NMEA sentences, and an HX711 behind two GPIO lines.
//
// The drivers run unchanged on top of it, which is what the bridge's
// end-to-end test, the idle benchmark and `bus: sim` configurations use.
// Unlike a transcript replay it never runs out: values come from functions.
package sim
