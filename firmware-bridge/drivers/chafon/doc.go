// Package chafon drives a UHF RFID (EPC Class 1 Gen 2) reader module of the
// Chafon CF-RU5102 / UHFReader288 family over a UART.
//
// The frame format follows the Chafon "UHFReader288 / UHFReader86 User's
// Manual" (command set "EPC C1G2", section "Communication protocol"), the same
// framing as the older UHFReader18 (CF-RU5102) manual:
//
//	command  : Len | Adr | Cmd   | Data[]          | CRC-16 LSB | CRC-16 MSB
//	response : Len | Adr | reCmd | Status | Data[] | CRC-16 LSB | CRC-16 MSB
//
// Len counts every byte after itself (so a frame is Len+1 bytes); Adr is the
// reader address (0xFF broadcast); the CRC is CRC-16/MCRF4XX (reflected
// polynomial 0x8408, preset 0xFFFF, no final XOR) over Len..Data, sent low
// byte first.
//
// Commands used:
//
//	0x21 Get Reader Information — probe. Response data: Version(2) Type(1)
//	     Tr_Type(1) dmaxfre(1) dminfre(1) Power(1) Scntm(1) [Ant CheckAnt ...]
//	0x01 Inventory (288 variant). Command data: QValue Session MaskMem
//	     MaskAdr(2) MaskLen Target Ant Scantime. Response data: Ant(bit mask
//	     0x01..0x08 = antenna 1..4) Num, then Num times: EPCLen EPC[EPCLen] RSSI.
//
// Inventory status: 0x01 round complete, 0x02 scan time over, 0x03 more
// frames follow (read until a different status), 0x04 reader memory full,
// 0xFB no tag in the field (an empty round, not an error), 0xF8 antenna
// error. Any other status is returned as a *StatusError.
//
// The RSSI byte is the received strength's magnitude in dBm; RSSIDbm is its
// negation plus Opts.RSSIOffsetDb for modules that report it shifted.
//
// The device is shaped like a periph.io device: New probes the reader, then
// Sense runs one inventory round; SenseContinuous and Halt run rounds on a
// period. Frames are read through periph's conn.Conn: a Tx to write the
// command, then a read of the Len byte and one of the rest, which is also
// how the tests replay transcripts with conntest.Playback.
package chafon
