package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/config"
	"github.com/revloop/revloop/devices"
)

func init() {
	register(&command{name: "device", summary: "provision and manage devices and their MQTT credentials", run: runDevice})
}

const deviceUsage = `usage: revloop device <subcommand> [flags] [args]

subcommands:
  add               provision a device and print its secret (shown once)
  list              list devices (--kind, --state active|disabled|revoked|offline, --label k=v)
  show ID           a device, its health and recent events
  rotate ID         issue a new secret; the old one stops working at once
  revoke ID         revoke a device for good
  disable ID        suspend a device
  enable ID         re-activate a disabled device
  claim ID          issue a one-time claim token (POST /api/v1/devices/claim)
  import FILE       provision every device of a CSV file (id,kind,attached_kind,attached_id,labels,firmware), all or nothing
  export-mosquitto  write a Mosquitto password file and ACL file

Every subcommand takes --database-url / --data-dir; run 'revloop device <subcommand> --help' for its flags.`

func runDevice(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(e.stderr, deviceUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "add":
		return deviceAdd(ctx, e, rest)
	case "list":
		return deviceList(ctx, e, rest)
	case "show":
		return deviceShow(ctx, e, rest)
	case "rotate", "revoke", "disable", "enable":
		return deviceChange(ctx, e, sub, rest)
	case "claim":
		return deviceClaim(ctx, e, rest)
	case "import":
		return deviceImport(ctx, e, rest)
	case "export-mosquitto":
		return deviceExportMosquitto(ctx, e, rest)
	}
	fmt.Fprintln(e.stderr, deviceUsage)
	return fmt.Errorf("device: unknown subcommand %q", sub)
}

// deviceCmd is the shared part of every device subcommand.
type deviceCmd struct {
	set  *config.Set
	sf   storeFlags
	args []string
}

func newDeviceCmd(name string, e *env) *deviceCmd {
	c := &deviceCmd{set: config.NewSet("device "+name, e.stderr)}
	c.sf.register(c.set)
	return c
}

// parse accepts flags before and after positional arguments.
func (c *deviceCmd) parse(args []string, npos int) error {
	for {
		if err := c.set.Parse(args); err != nil {
			return err
		}
		fs := c.set.FlagSet()
		if fs.NArg() == 0 {
			break
		}
		c.args = append(c.args, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(c.args) != npos {
		c.set.FlagSet().Usage()
		return fmt.Errorf("device: want %d argument(s), got %d", npos, len(c.args))
	}
	return nil
}

func (c *deviceCmd) registry(ctx context.Context, e *env) (*devices.Registry, func(), error) {
	db, _, err := c.sf.open(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	return devices.NewRegistry(db, e.log, devices.Options{}), func() { db.Close() }, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func deviceAdd(ctx context.Context, e *env, args []string) error {
	c := newDeviceCmd("add", e)
	var spec devices.Spec
	var ak, labels string
	var asJSON bool
	c.set.String(&spec.ID, "id", "", "device id ([a-z0-9][a-z0-9._-]{0,63})")
	c.set.String(&spec.Kind, "kind", "", "tracker, bin_sensor, gate_reader, scale or gateway")
	c.set.String(&ak, "attached-kind", "", "vehicle, bin, gate or scale")
	c.set.String(&spec.Attached.ID, "attached-id", "", "id of the vehicle, bin, gate or scale")
	c.set.String(&labels, "labels", "", "labels as k=v;k2=v2")
	c.set.String(&spec.Firmware, "firmware", "", "firmware version")
	c.set.Bool(&asJSON, "json", false, "print JSON")
	if err := c.parse(args, 0); err != nil {
		return err
	}
	spec.Attached.Kind = devices.AttachedKind(ak)
	l, err := devices.ParseLabels(labels)
	if err != nil {
		return fmt.Errorf("device add: %w", err)
	}
	spec.Labels = l
	reg, done, err := c.registry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	d, cred, err := reg.Add(ctx, spec)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, map[string]any{"device": d, "secret": cred.Secret})
	}
	fmt.Fprintf(e.stdout, "device %s (%s) added\nsecret: %s\n", d.ID, d.Kind, cred.Secret)
	fmt.Fprintln(e.stderr, "store the secret now: it is not kept and cannot be shown again (use 'revloop device rotate' to issue a new one)")
	return nil
}

func deviceList(ctx context.Context, e *env, args []string) error {
	c := newDeviceCmd("list", e)
	var kind, state, labels string
	var asJSON bool
	c.set.String(&kind, "kind", "", "only this kind")
	c.set.String(&state, "state", "", "only active, disabled, revoked or offline devices")
	c.set.String(&labels, "label", "", "only devices with these labels (k=v;k2=v2)")
	c.set.Bool(&asJSON, "json", false, "print JSON")
	if err := c.parse(args, 0); err != nil {
		return err
	}
	var f devices.Filter
	var err error
	if kind != "" {
		if f.Kind, err = devices.ParseKind(kind); err != nil {
			return fmt.Errorf("device list: %w", err)
		}
	}
	offline := state == "offline"
	if state != "" && !offline {
		if f.State, err = devices.ParseState(state); err != nil {
			return fmt.Errorf("device list: %w", err)
		}
	}
	if f.Label, err = devices.ParseLabels(labels); err != nil {
		return fmt.Errorf("device list: %w", err)
	}
	reg, done, err := c.registry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	list, err := reg.List(ctx, f)
	if err != nil {
		return err
	}
	if offline {
		ids, err := reg.OfflineIDs(ctx)
		if err != nil {
			return err
		}
		kept := list[:0]
		for _, d := range list {
			if ids[d.ID] {
				kept = append(kept, d)
			}
		}
		list = kept
	}
	if asJSON {
		if list == nil {
			list = []devices.Device{}
		}
		return printJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tATTACHED\tFIRMWARE\tLAST SEEN\tLABELS")
	for _, d := range list {
		att := "-"
		if d.Attached.Kind != "" {
			att = string(d.Attached.Kind) + ":" + d.Attached.ID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Kind, d.State, att, dash(d.Firmware), fmtTime(d.LastSeen), dash(devices.FormatLabels(d.Labels)))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func deviceShow(ctx context.Context, e *env, args []string) error {
	c := newDeviceCmd("show", e)
	var asJSON bool
	c.set.Bool(&asJSON, "json", false, "print JSON")
	if err := c.parse(args, 1); err != nil {
		return err
	}
	id, err := revloop.ParseDeviceID(c.args[0])
	if err != nil {
		return fmt.Errorf("device show: %w", err)
	}
	reg, done, err := c.registry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	d, err := reg.Get(ctx, id)
	if err != nil {
		return err
	}
	h, err := reg.HealthOf(ctx, id)
	if err != nil {
		return err
	}
	ev, err := reg.Events(ctx, id, 20)
	if err != nil {
		return err
	}
	if asJSON {
		if ev == nil {
			ev = []devices.Event{}
		}
		return printJSON(e.stdout, map[string]any{"device": d, "health": h, "events": ev})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nkind\t%s\nstate\t%s\n", d.ID, d.Kind, d.State)
	if d.Attached.Kind != "" {
		fmt.Fprintf(tw, "attached to\t%s %s\n", d.Attached.Kind, d.Attached.ID)
	}
	fmt.Fprintf(tw, "labels\t%s\nfirmware\t%s\ncreated\t%s\nlast seen\t%s\ncredential\tversion %d\n",
		dash(devices.FormatLabels(d.Labels)), dash(d.Firmware), fmtTime(d.Created), fmtTime(d.LastSeen), d.CredentialVersion)
	fmt.Fprintf(tw, "health\toffline=%v battery=%.2fV rssi=%.0fdBm uptime=%.0fs config=v%d\n", h.Offline, h.BatteryV, h.RSSIDbm, h.UptimeS, h.ConfigVersion)
	for _, x := range ev {
		fmt.Fprintf(tw, "event\t%s %s\n", fmtTime(x.Time), x.Kind)
	}
	return tw.Flush()
}

func deviceChange(ctx context.Context, e *env, op string, args []string) error {
	c := newDeviceCmd(op, e)
	if err := c.parse(args, 1); err != nil {
		return err
	}
	id, err := revloop.ParseDeviceID(c.args[0])
	if err != nil {
		return fmt.Errorf("device %s: %w", op, err)
	}
	reg, done, err := c.registry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	switch op {
	case "rotate":
		cred, err := reg.Rotate(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "device %s: new secret: %s\n", id, cred.Secret)
		fmt.Fprintln(e.stderr, "the old secret no longer works; re-export Mosquitto files if you use Mosquitto")
		return nil
	case "revoke":
		err = reg.Revoke(ctx, id)
	case "disable":
		err = reg.Disable(ctx, id)
	case "enable":
		err = reg.Enable(ctx, id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "device %s: %s\n", id, map[string]string{"revoke": "revoked", "disable": "disabled", "enable": "enabled"}[op])
	return nil
}

func deviceClaim(ctx context.Context, e *env, args []string) error {
	c := newDeviceCmd("claim", e)
	var ttl time.Duration
	c.set.Duration(&ttl, "ttl", 24*time.Hour, "how long the token stays valid")
	if err := c.parse(args, 1); err != nil {
		return err
	}
	id, err := revloop.ParseDeviceID(c.args[0])
	if err != nil {
		return fmt.Errorf("device claim: %w", err)
	}
	reg, done, err := c.registry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	cl, err := reg.CreateClaim(ctx, id, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "device %s: claim token %s (single use, expires %s)\n", id, cl.Token, cl.Expires.Format(time.RFC3339))
	return nil
}

func deviceImport(ctx context.Context, e *env, args []string) error {
	c := newDeviceCmd("import", e)
	var secretsOut string
	var quiet bool
	c.set.String(&secretsOut, "secrets-out", "", "write device_id,secret of the imported devices to this new file (mode 0600)")
	c.set.Bool(&quiet, "quiet", false, "no progress bar")
	if err := c.parse(args, 1); err != nil {
		return err
	}
	in, err := os.Open(c.args[0])
	if err != nil {
		return fmt.Errorf("device import: %w", err)
	}
	defer in.Close()
	rows, err := devices.ParseCSV(in)
	if err != nil {
		return importFailure(e, c.args[0], err)
	}
	var out *os.File
	if secretsOut != "" {
		// Created before importing, so a secret is never issued without a
		// place to put it; never overwrites an existing file.
		if out, err = os.OpenFile(secretsOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("device import: secrets file: %w", err)
		}
	}
	reg, done, err := c.registry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	bar := newProgress(e.stderr, "hashing secrets", quiet)
	creds, err := reg.Import(ctx, rows, bar.set)
	bar.done()
	if err != nil {
		if out != nil {
			out.Close()
			os.Remove(secretsOut)
		}
		return importFailure(e, c.args[0], err)
	}
	if out != nil {
		var b strings.Builder
		b.WriteString("device_id,secret\n")
		for _, cr := range creds {
			fmt.Fprintf(&b, "%s,%s\n", cr.Device, cr.Secret)
		}
		_, werr := out.WriteString(b.String())
		if cerr := out.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("device import: %d devices imported but writing %s failed (%w); rotate their secrets", len(creds), secretsOut, werr)
		}
		fmt.Fprintf(e.stdout, "imported %d devices; secrets in %s\n", len(creds), secretsOut)
		return nil
	}
	fmt.Fprintf(e.stdout, "imported %d devices (secrets not written: use --secrets-out, or rotate to issue new ones)\n", len(creds))
	return nil
}

// importFailure prints every bad row, then returns a one-line summary.
func importFailure(e *env, file string, err error) error {
	var ie *devices.ImportError
	if !errors.As(err, &ie) {
		return fmt.Errorf("device import %s: %w", file, err)
	}
	for _, r := range ie.Rows {
		fmt.Fprintf(e.stderr, "%s:%d: %s: %s\n", file, r.Line, r.Field, r.Reason)
	}
	return fmt.Errorf("device import %s: %d bad row(s), nothing imported", file, len(ie.Rows))
}

func deviceExportMosquitto(ctx context.Context, e *env, args []string) error {
	c := newDeviceCmd("export-mosquitto", e)
	var pwFile, aclFile, svcUser, svcPwFile string
	c.set.String(&pwFile, "password-file", "", "Mosquitto password_file to write")
	c.set.String(&aclFile, "acl-file", "", "Mosquitto acl_file to write")
	c.set.String(&svcUser, "service-user", "ingest", "service account of the ingest consumer (empty: none)")
	c.set.String(&svcPwFile, "service-password-file", "", "file holding the service account's password (required with --service-user)")
	if err := c.parse(args, 0); err != nil {
		return err
	}
	if pwFile == "" || aclFile == "" {
		return errors.New("device export-mosquitto: --password-file and --acl-file are required")
	}
	var services []devices.MosquittoService
	if svcUser != "" {
		if svcPwFile == "" {
			return errors.New("device export-mosquitto: --service-password-file is required for --service-user (or set --service-user '')")
		}
		pw, err := os.ReadFile(svcPwFile)
		if err != nil {
			return fmt.Errorf("device export-mosquitto: %w", err)
		}
		secret := strings.TrimRight(string(pw), "\r\n")
		if secret == "" {
			return fmt.Errorf("device export-mosquitto: %s is empty", svcPwFile)
		}
		h, err := devices.MosquittoHash(secret, 0)
		if err != nil {
			return err
		}
		services = append(services, devices.MosquittoService{Username: svcUser, Hash: h})
	}
	reg, done, err := c.registry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	var pw, acl strings.Builder
	res, err := reg.ExportMosquitto(ctx, &pw, &acl, services)
	if err != nil {
		return err
	}
	if err := writeAtomic(pwFile, pw.String(), 0o640); err != nil {
		return fmt.Errorf("device export-mosquitto: %w", err)
	}
	if err := writeAtomic(aclFile, acl.String(), 0o644); err != nil {
		return fmt.Errorf("device export-mosquitto: %w", err)
	}
	fmt.Fprintf(e.stdout, "wrote %d device(s) and %d service account(s) to %s, ACL to %s; reload Mosquitto (SIGHUP) to apply\n",
		res.Devices, res.Services, pwFile, aclFile)
	if len(res.Skipped) > 0 {
		fmt.Fprintf(e.stderr, "%d active device(s) have no Mosquitto hash and were left out (rotate them): %v\n", len(res.Skipped), res.Skipped)
	}
	return nil
}

// writeAtomic replaces path with data through a temporary file and rename,
// so Mosquitto never reads a half-written file.
func writeAtomic(path, data string, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// progress draws a one-line bar on stderr, at most every 100 ms.
type progress struct {
	w     io.Writer
	label string
	off   bool
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, label string, off bool) *progress {
	return &progress{w: w, label: label, off: off}
}

func (p *progress) set(done, total int) {
	if p.off || total == 0 {
		return
	}
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	n := done * width / total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", n), strings.Repeat(" ", width-n), done, total)
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
