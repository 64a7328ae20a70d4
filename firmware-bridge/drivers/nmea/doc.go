// Package nmea drives a GNSS receiver that speaks NMEA 0183 over a UART.
//
// The driver reads the receiver's sentence stream, verifies each sentence's
// checksum and merges the sentences of one epoch into a Fix:
//
//	$--RMC  time, status (A valid / V warning), lat, N/S, lon, E/W, speed (knots), course, date
//	$--GGA  time, lat, lon, fix quality (0 none, 1 GPS, 2 DGPS, 4 RTK, ...), satellites, HDOP, altitude
//	$--GSA  mode, fix type (1 none, 2 2D, 3 3D), satellite ids, PDOP, HDOP, VDOP
//	$--VTG  course true, course magnetic, speed knots, speed km/h
//
// Field layouts follow NMEA 0183 version 4.10 (National Marine Electronics
// Association) as documented in the u-blox 8 / u-blox M8 Receiver Description
// (UBX-13003221), section "NMEA Messages Overview" and the RMC, GGA, GSA and
// VTG message pages. A sentence is '$', talker (GP, GN, GL, GA, GB, BD),
// formatter, comma-separated fields, '*', two hex digits of the XOR of every
// byte between '$' and '*', CR LF; at most 82 characters.
//
// Broken sentences (bad checksum, missing fields, overlong lines, line noise)
// are counted in Stats and skipped: a receiver's serial line is noisy at power
// up and the driver must not stop on it.
//
// The device is shaped like a periph.io device: New probes for a valid
// sentence, DefaultOpts, Sense, SenseContinuous and Halt.
package nmea
