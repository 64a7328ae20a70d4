// Package hx711 drives an Avia Semiconductor HX711 24-bit load-cell
// amplifier through two GPIO lines: DOUT (an input) and PD_SCK (an output).
//
// Protocol (HX711 datasheet, "Serial Interface" and Fig. 2 / Table 3):
// DOUT high means no conversion is ready; when it goes low the host sends 25
// to 27 positive pulses on PD_SCK. Each of the first 24 rising edges shifts
// out one bit, MSB first, valid on DOUT within 0.1 µs (T2); the value is 24-bit
// two's complement, saturating at 0x7FFFFF and 0x800000. The extra pulses
// select the next conversion's input and gain: 25 pulses channel A gain 128,
// 26 channel B gain 32, 27 channel A gain 64. PD_SCK high for more than 60 µs
// powers the chip down; taking it low again powers it up (reset to A/128).
// Output rate is 10 or 80 samples per second by the RATE pin.
//
// Because a pulse stretched past 60 µs (the reading goroutine preempted
// mid-transfer) resets the chip and corrupts the value, the driver times each
// high phase with a monotonic clock and discards a transfer with one over
// Opts.MaxPulseHigh, retrying it.
//
// Weights: kg = (raw - Offset) / CountsPerKg. Tare sets Offset from the
// average of n readings, Calibrate sets CountsPerKg from a known mass. A
// reading is stable when the last Opts.StableWindow weights lie within
// Opts.StableToleranceKg of each other.
//
// The device is shaped like a periph.io device: New probes (waits for a first
// conversion), DefaultOpts, Sense, SenseContinuous, Halt (power down), and
// doSleep / now seams for tests; the sim package has a GPIO fake of the chip
// that checks the timing.
package hx711
