// Package srf02 drives a Devantech SRF02 ultrasonic range finder over I2C,
// used to measure the distance from a bin's lid to its contents.
//
// Register map (Devantech "SRF02 Ultrasonic range finder — Technical
// Specification", I2C mode):
//
//	write 0x00  command: 0x50 range in inches, 0x51 range in cm, 0x52 range in µs
//	read  0x00  software revision (reads 0xFF while a ranging is in progress)
//	read  0x01  unused, reads 0x80
//	read  0x02  range high byte
//	read  0x03  range low byte
//	read  0x04  autotune minimum range high byte
//	read  0x05  autotune minimum range low byte
//
// The default address is 0xE0 in the datasheet's 8-bit notation, 0x70 as a
// 7-bit I2C address. A ranging takes up to 65 ms (the driver waits 70 ms, then
// polls the revision register until it no longer reads 0xFF). The minimum
// range is about 15 cm; readings below Opts.MinMm or above Opts.MaxMm are
// treated as echoes of nothing and discarded.
//
// Ultrasonic echoes in a bin are noisy (side walls, irregular contents), so
// Sense takes Opts.Samples readings and returns their median; it fails when
// fewer than half of them are plausible.
//
// The probe checks the identity the chip offers: register 1 must read 0x80
// and the revision must be neither 0x00 nor 0xFF.
//
// The device is shaped like a periph.io device: New probes, DefaultOpts,
// Sense, SenseContinuous, Halt, and a doSleep seam for tests.
package srf02
