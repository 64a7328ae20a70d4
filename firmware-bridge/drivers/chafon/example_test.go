package chafon_test

import (
	"fmt"

	"github.com/revloop/revloop/firmware-bridge/drivers/chafon"
)

func ExampleDecodeResponse() {
	// One inventory frame: antenna 1, one 4-byte EPC at RSSI 58.
	frame := chafon.EncodeResponse(0x00, chafon.CmdInventory, chafon.StatusDone, []byte{0x01, 1, 4, 0xE2, 0x00, 0x12, 0x34, 58})
	r, err := chafon.DecodeResponse(frame)
	if err != nil {
		fmt.Println(err)
		return
	}
	tags, _ := chafon.ParseInventory(r.Data, 0)
	fmt.Printf("% X\n", frame)
	fmt.Println(tags[0].EPCHex(), tags[0].Antenna, tags[0].RSSIDbm)

	frame[len(frame)-1] ^= 1
	_, err = chafon.DecodeResponse(frame)
	fmt.Println(err != nil)
	// Output:
	// 0D 00 01 01 01 01 04 E2 00 12 34 3A AA 38
	// E2001234 1 -58
	// true
}
