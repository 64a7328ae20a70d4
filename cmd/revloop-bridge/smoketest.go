package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/revloop/revloop/firmware-bridge/bustest"
	"github.com/revloop/revloop/firmware-bridge/drivers/chafon"
	"github.com/revloop/revloop/firmware-bridge/drivers/hx711"
	"github.com/revloop/revloop/firmware-bridge/drivers/mcp9808"
	"github.com/revloop/revloop/firmware-bridge/drivers/nmea"
	"github.com/revloop/revloop/firmware-bridge/drivers/srf02"
	"github.com/revloop/revloop/firmware-bridge/hw"
)

// hwFlags are the bus flags smoketest and record share.
type hwFlags struct {
	dev       string
	addr      uint
	baud      int
	dout, sck int
	n         int
	interval  time.Duration
}

func (h *hwFlags) register(fs *flag.FlagSet, n int) {
	fs.StringVar(&h.dev, "dev", "", "bus `device`: /dev/i2c-1, /dev/ttyS0, /dev/gpiochip0")
	fs.UintVar(&h.addr, "addr", 0, "I2C address (default: the chip's)")
	fs.IntVar(&h.baud, "baud", 0, "UART baud rate (default 9600 for nmea, 57600 for chafon)")
	fs.IntVar(&h.dout, "dout", 5, "HX711 DOUT line offset")
	fs.IntVar(&h.sck, "sck", 6, "HX711 PD_SCK line offset")
	fs.IntVar(&h.n, "n", n, "number of readings")
	fs.DurationVar(&h.interval, "interval", time.Second, "time between readings")
}

func parseDriverArgs(name string, args []string, n int) (string, *hwFlags, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	h := &hwFlags{}
	h.register(fs, n)
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		fs.Usage()
		return "", nil, nil, fmt.Errorf("%s: name a driver: nmea, chafon, srf02, mcp9808, hx711", name)
	}
	return args[0], h, fs, nil
}

func (h *hwFlags) baudFor(driver string) int {
	if h.baud != 0 {
		return h.baud
	}
	if driver == "chafon" {
		return 57600
	}
	return 9600
}

// smokeDriver runs one driver over already-opened buses and prints n readings.
func smokeDriver(ctx context.Context, out io.Writer, driver string, h *hwFlags, bus i2c.Bus, c conn.Conn, r io.Reader) error {
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(h.interval):
			return true
		}
	}
	switch driver {
	case "nmea":
		d, err := nmea.New(r, nil)
		if err != nil {
			return err
		}
		for i := 0; i < h.n && ctx.Err() == nil; i++ {
			var f nmea.Fix
			if err := d.Sense(&f); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					i--
					continue
				}
				return err
			}
			fmt.Fprintf(out, "%s valid=%v lat=%.6f lon=%.6f speed_kmh=%.1f heading=%.1f hdop=%.1f sats=%d quality=%d fix=%dD\n",
				f.Time.Format(time.RFC3339), f.Valid, f.Lat, f.Lon, f.SpeedKmh, f.HeadingDeg, f.HDOP, f.Sats, f.Quality, f.FixType)
		}
		fmt.Fprintf(out, "sentences: %+v\n", d.Stats())
	case "chafon":
		d, err := chafon.New(c, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "reader: %+v\n", d.Info())
		for i := 0; i < h.n; i++ {
			tags, err := d.Sense()
			if err != nil {
				fmt.Fprintf(out, "round %d: %v\n", i+1, err)
			}
			for _, t := range tags {
				fmt.Fprintf(out, "round %d: epc=%s antenna=%d rssi_dbm=%.0f\n", i+1, t.EPCHex(), t.Antenna, t.RSSIDbm)
			}
			if len(tags) == 0 && err == nil {
				fmt.Fprintf(out, "round %d: no tag\n", i+1)
			}
			if !wait() {
				break
			}
		}
	case "srf02":
		d, err := srf02.New(bus, &srf02.Opts{Addr: uint16(h.addr)})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "srf02 revision %d\n", d.Revision())
		for i := 0; i < h.n; i++ {
			var rd srf02.Reading
			if err := d.Sense(&rd); err != nil {
				fmt.Fprintf(out, "reading %d: %v\n", i+1, err)
			} else {
				fmt.Fprintf(out, "reading %d: distance_mm=%.0f (median of %d)\n", i+1, rd.DistanceMm, rd.Samples)
			}
			if !wait() {
				break
			}
		}
	case "mcp9808":
		d, err := mcp9808.New(bus, &mcp9808.Opts{Addr: uint16(h.addr), Resolution: 3})
		if err != nil {
			return err
		}
		defer d.Halt()
		for i := 0; i < h.n; i++ {
			var t float64
			if err := d.Sense(&t); err != nil {
				fmt.Fprintf(out, "reading %d: %v\n", i+1, err)
			} else {
				fmt.Fprintf(out, "reading %d: temp_c=%.4f\n", i+1, t)
			}
			if !wait() {
				break
			}
		}
	default:
		return fmt.Errorf("unknown driver %q", driver)
	}
	return nil
}

func cmdSmoketest(ctx context.Context, out io.Writer, args []string) error {
	driver, h, fs, err := parseDriverArgs("smoketest", args, 5)
	if err != nil {
		return err
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if h.dev == "" {
		return errors.New("smoketest: -dev is required")
	}
	switch driver {
	case "nmea", "chafon":
		p, err := hw.OpenSerial(h.dev, h.baudFor(driver))
		if err != nil {
			return err
		}
		defer p.Close()
		return smokeDriver(ctx, out, driver, h, nil, p, p)
	case "srf02", "mcp9808":
		b, err := hw.OpenI2C(h.dev)
		if err != nil {
			return err
		}
		defer b.Close()
		return smokeDriver(ctx, out, driver, h, b, nil, nil)
	case "hx711":
		dout, err := hw.OpenLine(h.dev, h.dout, false)
		if err != nil {
			return err
		}
		defer dout.Close()
		sck, err := hw.OpenLine(h.dev, h.sck, true)
		if err != nil {
			return err
		}
		defer sck.Close()
		d, err := hx711.New(dout, sck, nil)
		if err != nil {
			return err
		}
		defer d.Halt()
		fmt.Fprintln(out, "taring with an empty scale...")
		if err := d.Tare(10); err != nil {
			return err
		}
		off, _ := d.Calibration()
		fmt.Fprintf(out, "offset=%d (put it in the config as offset)\n", off)
		for i := 0; i < h.n && ctx.Err() == nil; i++ {
			var w hx711.Weight
			if err := d.Sense(&w); err != nil {
				fmt.Fprintf(out, "reading %d: %v\n", i+1, err)
			} else {
				fmt.Fprintf(out, "reading %d: raw=%d counts_over_tare=%d stable=%v\n", i+1, w.Raw, w.Raw-off, w.Stable)
			}
			time.Sleep(h.interval)
		}
		return nil
	}
	return fmt.Errorf("smoketest: unknown driver %q", driver)
}

// cmdRecord runs a driver over a recording wrapper of the real bus and saves
// the transcript, which bustest.Load turns into a Playback for tests.
func cmdRecord(out io.Writer, args []string) error {
	driver, h, fs, err := parseDriverArgs("record", args, 3)
	if err != nil {
		return err
	}
	outPath := fs.String("o", "", "transcript `file` to write (JSON; raw bytes for nmea)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if h.dev == "" || *outPath == "" {
		return errors.New("record: -dev and -o are required")
	}
	ctx := context.Background()
	switch driver {
	case "nmea":
		p, err := hw.OpenSerial(h.dev, h.baudFor(driver))
		if err != nil {
			return err
		}
		defer p.Close()
		f, err := os.Create(*outPath)
		if err != nil {
			return err
		}
		defer f.Close()
		err = smokeDriver(ctx, out, driver, h, nil, nil, io.TeeReader(p, f))
		if err != nil {
			return err
		}
		return f.Close()
	case "chafon":
		p, err := hw.OpenSerial(h.dev, h.baudFor(driver))
		if err != nil {
			return err
		}
		defer p.Close()
		rec := &conntest.Record{Conn: p}
		err = smokeDriver(ctx, out, driver, h, nil, rec, nil)
		if sErr := bustest.Save(*outPath, bustest.Transcript{Bus: "uart", Device: driver, Ops: bustest.FromConn(rec.Ops)}); sErr != nil {
			return sErr
		}
		return err
	case "srf02", "mcp9808":
		b, err := hw.OpenI2C(h.dev)
		if err != nil {
			return err
		}
		defer b.Close()
		rec := &i2ctest.Record{Bus: b}
		err = smokeDriver(ctx, out, driver, h, rec, nil, nil)
		if sErr := bustest.Save(*outPath, bustest.Transcript{Bus: "i2c", Device: driver, Ops: bustest.FromI2C(rec.Ops)}); sErr != nil {
			return sErr
		}
		return err
	case "hx711":
		return errors.New("record: hx711 is bit-banged GPIO with timing; its tests use the sim.HX711 fake instead of a transcript")
	}
	return fmt.Errorf("record: unknown driver %q", driver)
}
