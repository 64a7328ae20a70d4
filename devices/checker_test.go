package devices_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
)

func TestCheckerReasons(t *testing.T) {
	ctx := context.Background()
	reg, db := testRegistry(t)
	addDevice(t, reg, "ok-1", "tracker")
	addDevice(t, reg, "rev-1", "tracker")
	addDevice(t, reg, "dis-1", "tracker")
	reg.Revoke(ctx, "rev-1")
	reg.Disable(ctx, "dis-1")
	c := devices.NewChecker(reg, time.Hour)
	cases := []struct {
		id   revloop.DeviceID
		want string
	}{
		{"ok-1", ""},
		{"rev-1", devices.ReasonDeviceRevoked},
		{"dis-1", devices.ReasonDeviceDisabled},
		{"nobody", devices.ReasonUnknownDevice},
	}
	for _, cs := range cases {
		t.Run(string(cs.id), func(t *testing.T) {
			got, err := c.CheckDevice(ctx, cs.id)
			if err != nil || got != cs.want {
				t.Fatalf("CheckDevice = %q, %v; want %q", got, err, cs.want)
			}
		})
	}
	// A change through the registry is seen at once despite the long TTL.
	if err := reg.Revoke(ctx, "ok-1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.CheckDevice(ctx, "ok-1"); got != devices.ReasonDeviceRevoked {
		t.Fatalf("after Revoke CheckDevice = %q", got)
	}
	if _, _, err := reg.Add(ctx, devices.Spec{ID: "nobody", Kind: "scale"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.CheckDevice(ctx, "nobody"); got != "" {
		t.Fatalf("after Add CheckDevice = %q, want accepted", got)
	}
	// The store being unreachable is an error, not a verdict.
	db.Close()
	if reason, err := c.CheckDevice(ctx, "other"); err == nil || reason != "" {
		t.Fatalf("with the store closed CheckDevice = %q, %v; want an error", reason, err)
	}
}

func TestClaimSingleUse(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: now}
	reg, _ := testRegistry(t)
	reg2 := devices.NewRegistry(reg.DB(), nil, devices.Options{Argon2: cheapArgon, Now: clk.Now})
	old := addDevice(t, reg2, "gw-1", "gateway")
	cl, err := reg2.CreateClaim(ctx, "gw-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg2.CreateClaim(ctx, "gw-1", 0); !errors.Is(err, revloop.ErrInvalid) {
		t.Fatalf("zero ttl = %v, want ErrInvalid", err)
	}
	cred, err := reg2.RedeemClaim(ctx, cl.Token)
	if err != nil || cred.Device != "gw-1" {
		t.Fatalf("RedeemClaim = %+v, %v", cred, err)
	}
	if err := reg2.Authenticate(ctx, "gw-1", cred.Secret); err != nil {
		t.Fatalf("claimed secret: %v", err)
	}
	if err := reg2.Authenticate(ctx, "gw-1", old); !errors.Is(err, devices.ErrBadCredentials) {
		t.Fatalf("secret before the claim = %v, want refused", err)
	}
	if _, err := reg2.RedeemClaim(ctx, cl.Token); !errors.Is(err, devices.ErrBadClaim) {
		t.Fatalf("second redemption = %v, want ErrBadClaim", err)
	}
	expiring, _ := reg2.CreateClaim(ctx, "gw-1", time.Minute)
	clk.Add(2 * time.Minute)
	if _, err := reg2.RedeemClaim(ctx, expiring.Token); !errors.Is(err, devices.ErrBadClaim) {
		t.Fatalf("expired token = %v, want ErrBadClaim", err)
	}
	if _, err := reg2.RedeemClaim(ctx, "made-up"); !errors.Is(err, revloop.ErrUnauthorized) {
		t.Fatalf("unknown token = %v, want ErrUnauthorized", err)
	}
}

type fakePublisher struct {
	topics   []string
	payloads []string
	retained []bool
	err      error
}

func (p *fakePublisher) Publish(topic string, payload []byte, retain bool, qos byte) error {
	if p.err != nil {
		return p.err
	}
	p.topics = append(p.topics, topic)
	p.payloads = append(p.payloads, string(payload))
	p.retained = append(p.retained, retain)
	return nil
}

func TestDownlinkVersions(t *testing.T) {
	ctx := context.Background()
	reg, _ := testRegistry(t)
	addDevice(t, reg, "bin-1", "bin_sensor")
	pub := &fakePublisher{}
	dl := devices.NewDownlink(reg, pub)
	cfg, err := dl.Push(ctx, "bin-1", devices.ConfigSpec{ReportingIntervalS: 900, Thresholds: map[string]float64{"fill_pct": 80}})
	if err != nil || cfg.Version != 1 {
		t.Fatalf("first Push = %+v, %v", cfg, err)
	}
	if len(pub.topics) != 1 || pub.topics[0] != "revloop/v1/bin-1/config" || !pub.retained[0] ||
		pub.payloads[0] != `{"version":1,"reporting_interval_s":900,"thresholds":{"fill_pct":80}}` {
		t.Fatalf("published %v %v %v", pub.topics, pub.payloads, pub.retained)
	}
	bad := []struct {
		name string
		spec devices.ConfigSpec
		err  error
	}{
		{"zero interval", devices.ConfigSpec{}, revloop.ErrInvalid},
		{"bad threshold name", devices.ConfigSpec{ReportingIntervalS: 60, Thresholds: map[string]float64{"A B": 1}}, revloop.ErrInvalid},
		{"stale version", devices.ConfigSpec{ReportingIntervalS: 60, Version: 1}, revloop.ErrConflict},
	}
	for _, b := range bad {
		if _, err := dl.Push(ctx, "bin-1", b.spec); !errors.Is(err, b.err) {
			t.Errorf("%s: Push = %v, want %v", b.name, err, b.err)
		}
	}
	if _, err := dl.Push(ctx, "nobody", devices.ConfigSpec{ReportingIntervalS: 60}); !errors.Is(err, revloop.ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
	cfg, err = dl.Push(ctx, "bin-1", devices.ConfigSpec{ReportingIntervalS: 60, Version: 7})
	if err != nil || cfg.Version != 7 {
		t.Fatalf("explicit version Push = %+v, %v", cfg, err)
	}
	pub.err = errors.New("broker down")
	if _, err := dl.Push(ctx, "bin-1", devices.ConfigSpec{ReportingIntervalS: 60}); !errors.Is(err, revloop.ErrUnavailable) {
		t.Fatalf("failed publish = %v, want ErrUnavailable", err)
	}
	cs, err := reg.ConfigOf(ctx, "bin-1")
	if err != nil || cs.Config == nil || cs.Config.Version != 8 || cs.AckedVersion != 0 {
		t.Fatalf("ConfigOf = %+v, %v", cs, err)
	}
}
