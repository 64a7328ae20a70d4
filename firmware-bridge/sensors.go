package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/firmware-bridge/drivers/chafon"
	"github.com/revloop/revloop/firmware-bridge/drivers/hx711"
	"github.com/revloop/revloop/firmware-bridge/drivers/mcp9808"
	"github.com/revloop/revloop/firmware-bridge/drivers/nmea"
	"github.com/revloop/revloop/firmware-bridge/drivers/srf02"
)

// sensor runs one configured device: it opens the driver (retrying the probe
// with back-off), samples it every interval and queues its readings.
type sensor struct {
	b     *Bridge
	conf  DeviceConf
	bus   BusConfig
	every atomic.Int64 // interval in ns
	kick  chan struct{}

	errs     atomic.Uint64
	readings atomic.Uint64

	// lastTempC is the latest temperature of an mcp9808 (NaN when none).
	mu        sync.Mutex
	lastTempC float64
	tempOf    *sensor // the mcp9808 whose temperature joins this srf02's readings
	fillOf    *sensor // the srf02 an mcp9808 reports to

	sample func(ctx context.Context) error
	closer io.Closer
	paced  bool // sample blocks on the device; no timer between samples
}

func (s *sensor) interval() time.Duration { return time.Duration(s.every.Load()) }

func (s *sensor) setInterval(d time.Duration) {
	if time.Duration(s.every.Swap(int64(d))) != d {
		s.trigger()
	}
}

// trigger makes the sensor take a reading now.
func (s *sensor) trigger() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *sensor) temp() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastTempC
}

// run samples until ctx ends.
func (s *sensor) run(ctx context.Context) {
	log := s.b.log.With("device", s.conf.Name, "driver", s.conf.Driver)
	backoff := time.Second
	for s.sample == nil {
		err := s.open()
		if err == nil {
			break
		}
		s.errs.Add(1)
		log.Warn("sensor probe failed, retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
	defer func() {
		if s.closer != nil {
			s.closer.Close()
		}
	}()
	failing := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.kick:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		err := s.sample(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			s.errs.Add(1)
			if !failing {
				log.Warn("sensor reading failed", "err", err)
			}
			failing = true
		case failing:
			log.Info("sensor recovered")
			failing = false
		}
		if s.paced {
			timer.Reset(0)
		} else {
			timer.Reset(s.interval())
		}
	}
}

func (s *sensor) open() error {
	hw, c := s.b.hw, s.conf
	switch c.Driver {
	case "nmea":
		u, err := hw.OpenUART(s.bus, "nmea")
		if err != nil {
			return err
		}
		d, err := nmea.New(u, nil)
		if err != nil {
			u.Close()
			return err
		}
		s.closer = u
		var last time.Time
		s.sample = func(ctx context.Context) error {
			// The receiver paces the loop: Sense blocks until the next epoch.
			for silent := 0; ; {
				var f nmea.Fix
				if err := d.Sense(&f); err != nil {
					// A read timeout is a quiet second on the line: retry
					// for a while before calling the receiver failed.
					if errors.Is(err, os.ErrDeadlineExceeded) && silent < 10 && ctx.Err() == nil {
						silent++
						continue
					}
					return err
				}
				silent = 0
				if !f.Valid {
					s.b.noFix.Add(1)
					continue
				}
				if !last.IsZero() && f.Time.Sub(last) < s.interval()-time.Millisecond {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					continue
				}
				last = f.Time
				p := revloop.Position{Device: c.DeviceID, Time: s.b.readingTime(f.Time), Lat: f.Lat, Lon: f.Lon,
					SpeedKmh: f.SpeedKmh, HeadingDeg: f.HeadingDeg, HDOP: f.HDOP, Sats: f.Sats}
				obj, err := EncodePosition(p)
				if err != nil {
					return err
				}
				s.readings.Add(1)
				return s.b.enqueue(revloop.Topic(c.DeviceID, revloop.ChannelGPS), obj)
			}
		}
		// Sense blocks until the next epoch: the receiver paces the loop.
		s.paced = true
	case "chafon":
		u, err := hw.OpenUART(s.bus, "chafon")
		if err != nil {
			return err
		}
		d, err := chafon.New(u, &chafon.Opts{Addr: 0xFF, QValue: 4, Antenna: byte(0x80 + c.Antenna - 1), ScanTime: 10})
		if err != nil {
			u.Close()
			return err
		}
		s.closer = u
		s.sample = func(context.Context) error {
			tags, err := d.Sense()
			if err != nil {
				return err
			}
			now := s.b.now()
			var recs [][]byte
			for _, t := range tags {
				obj, err := EncodeRFID(revloop.RFIDRead{Device: c.DeviceID, Time: now, EPC: t.EPCHex(), Antenna: t.Antenna, RSSIDbm: t.RSSIDbm})
				if err != nil {
					return err
				}
				recs = append(recs, MarshalRecord(revloop.Topic(c.DeviceID, revloop.ChannelRFID), obj))
			}
			s.readings.Add(uint64(len(recs)))
			return s.b.enqueueRaw(recs...)
		}
	case "srf02":
		bus, err := hw.OpenI2C(s.bus)
		if err != nil {
			return err
		}
		d, err := srf02.New(bus, &srf02.Opts{Addr: c.Address, Samples: c.Samples})
		if err != nil {
			bus.Close()
			return err
		}
		s.closer = bus
		s.sample = func(context.Context) error {
			var r srf02.Reading
			if err := d.Sense(&r); err != nil {
				return err
			}
			f := revloop.FillReading{Device: c.DeviceID, Bin: c.Bin, Site: c.Site, Time: s.b.now(),
				LevelPct: math.Round(LevelPct(r.DistanceMm, c.DepthMm, c.FullMm)*10) / 10, DistanceMm: r.DistanceMm, TempC: math.NaN()}
			if s.tempOf != nil {
				f.TempC = s.tempOf.temp()
			}
			obj, err := EncodeFill(f)
			if err != nil {
				return err
			}
			s.readings.Add(1)
			return s.b.enqueue(revloop.Topic(c.DeviceID, revloop.ChannelFill), obj)
		}
	case "mcp9808":
		bus, err := hw.OpenI2C(s.bus)
		if err != nil {
			return err
		}
		d, err := mcp9808.New(bus, &mcp9808.Opts{Addr: c.Address, Resolution: 3})
		if err != nil {
			bus.Close()
			return err
		}
		s.closer = bus
		s.sample = func(context.Context) error {
			var t float64
			if err := d.Sense(&t); err != nil {
				return err
			}
			s.mu.Lock()
			s.lastTempC = t
			s.mu.Unlock()
			fire := t >= s.b.thresholds().FireTempC
			if fire {
				s.b.fireAlerts.Add(1)
				s.b.log.Warn("fire suspicion", "device", c.Name, "temp_c", t)
			}
			if s.fillOf != nil {
				if fire {
					s.fillOf.trigger()
				}
				return nil
			}
			obj, err := EncodeFill(revloop.FillReading{Device: c.DeviceID, Bin: c.Bin, Site: c.Site, Time: s.b.now(),
				LevelPct: math.NaN(), DistanceMm: math.NaN(), TempC: t})
			if err != nil {
				return err
			}
			s.readings.Add(1)
			return s.b.enqueue(revloop.Topic(c.DeviceID, revloop.ChannelFill), obj)
		}
	case "hx711":
		dout, sck, cl, err := hw.OpenGPIO(s.bus, c.DoutLine, c.SckLine)
		if err != nil {
			return err
		}
		d, err := hx711.New(dout, sck, &hx711.Opts{Gain: c.Gain, Offset: c.Offset, CountsPerKg: c.CountsPerKg,
			StableToleranceKg: s.b.thresholds().StableToleranceKg})
		if err != nil {
			cl.Close()
			return err
		}
		s.closer = closerFunc(func() error { d.Halt(); return cl.Close() })
		s.sample = func(context.Context) error {
			d.SetStableToleranceKg(s.b.thresholds().StableToleranceKg)
			var w hx711.Weight
			if err := d.Sense(&w); err != nil {
				return err
			}
			obj, err := EncodeWeight(revloop.WeightReading{Device: c.DeviceID, Time: s.b.now(), Kg: math.Round(w.Kg*1000) / 1000, Stable: w.Stable})
			if err != nil {
				return err
			}
			s.readings.Add(1)
			return s.b.enqueue(revloop.Topic(c.DeviceID, revloop.ChannelWeight), obj)
		}
	default:
		return fmt.Errorf("bridge: driver %q: %w", c.Driver, errors.ErrUnsupported)
	}
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
