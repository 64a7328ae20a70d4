package devices_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
)

// BenchmarkAuthenticate measures the registry's credential check without
// the network: warm answers from the verified-credential cache (one indexed
// state-store read), cold pays argon2id with the default parameters.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	reg, db := testRegistry(b)
	real := devices.NewRegistry(db, nil, devices.Options{NoMosquittoHash: true})
	const n = 200
	ids := make([]revloop.DeviceID, n)
	secrets := make([]string, n)
	for i := range ids {
		_, cred, err := real.Add(ctx, devices.Spec{ID: fmt.Sprintf("dev-%d", i), Kind: "tracker"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i], secrets[i] = cred.Device, cred.Secret
	}
	_ = reg
	b.Run("warm", func(b *testing.B) {
		for i := range ids {
			real.Authenticate(ctx, ids[i], secrets[i])
		}
		i := 0
		for b.Loop() {
			if err := real.Authenticate(ctx, ids[i%n], secrets[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("cold", func(b *testing.B) {
		i := 0
		for b.Loop() {
			real.ForgetVerified()
			if err := real.Authenticate(ctx, ids[i%n], secrets[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
