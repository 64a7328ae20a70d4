// Command revloop-bridge is revloop's edge gateway: it reads GNSS, RFID,
// fill-level, temperature and load-cell sensors on the gateway's own buses
// and forwards their readings over MQTT through an on-disk queue.
//
//	revloop-bridge run -config /etc/revloop-bridge/bridge.yaml
//	revloop-bridge smoketest <nmea|chafon|srf02|mcp9808|hx711> -dev /dev/... [flags]
//	revloop-bridge record <nmea|chafon|srf02|mcp9808> -dev /dev/... -o transcript.json
//	revloop-bridge bench idle -seconds 60 -mqtt-url tcp://127.0.0.1:1883
//	revloop-bridge bench drain -n 100000 -mqtt-url tcp://127.0.0.1:1883
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	err := dispatch(ctx, os.Stdout, log, os.Args[1:])
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "revloop-bridge: %v\n", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("REVLOOP_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

const usage = `usage: revloop-bridge <command> [flags]

commands:
  run        read the configured sensors and forward their readings (-config FILE)
  smoketest  exercise one sensor on real hardware and print its readings
  record     capture a bus transcript that driver tests replay
  bench      idle | drain: measure CPU/RSS at rest, or the backlog drain rate
`

func dispatch(ctx context.Context, out io.Writer, log *slog.Logger, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, log, args[1:])
	case "smoketest":
		return cmdSmoketest(ctx, out, args[1:])
	case "record":
		return cmdRecord(out, args[1:])
	case "bench":
		return cmdBench(ctx, out, log, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
