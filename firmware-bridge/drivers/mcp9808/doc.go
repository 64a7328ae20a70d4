// Package mcp9808 drives a Microchip MCP9808 digital temperature sensor over
// I2C, used in bins to raise a fire suspicion early.
//
// Register map (Microchip MCP9808 datasheet DS25095A, section 5.1 "Register
// Map"): 0x01 CONFIG (bit 8 SHDN, shutdown), 0x02 T_UPPER, 0x03 T_LOWER,
// 0x04 T_CRIT, 0x05 T_A (ambient temperature), 0x06 manufacturer ID (0x0054),
// 0x07 device ID / revision (device ID 0x04 in the high byte), 0x08 resolution
// (0x03 = +0.0625 °C, 250 ms conversion). Registers are 16-bit, MSB first.
//
// T_A: bits 15..13 are the alert flags, bit 12 the sign, bits 11..0 the
// temperature in 1/16 °C (two's complement over 13 bits).
//
// The probe checks the manufacturer and device IDs, sets the resolution and
// wakes the chip from shutdown. Halt puts it back into shutdown (1 µA).
//
// The device is shaped like a periph.io device: New probes, DefaultOpts,
// Sense, SenseContinuous, Halt, and a doSleep seam for tests.
package mcp9808
