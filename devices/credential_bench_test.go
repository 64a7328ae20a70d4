package devices_test

import (
	"fmt"
	"testing"

	"github.com/revloop/revloop/devices"
)

func BenchmarkVerifySecret(b *testing.B) {
	for _, kib := range []uint32{1 << 10, devices.DefaultArgon2.MemoryKiB, 19 << 10} {
		b.Run(fmt.Sprintf("m=%dKiB", kib), func(b *testing.B) {
			secret, _ := devices.NewSecret()
			h, err := devices.HashSecret(secret, devices.Argon2Params{MemoryKiB: kib})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if ok, err := devices.VerifySecret(secret, h); !ok || err != nil {
					b.Fatal("verify failed")
				}
			}
		})
	}
	b.Run("mosquitto-pbkdf2", func(b *testing.B) {
		h, _ := devices.MosquittoHash("secret", 0)
		for b.Loop() {
			devices.VerifyMosquittoHash("secret", h)
		}
	})
}
