package devices

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/revloop/revloop"
)

// MosquittoService is a service account line of an exported password file;
// Hash is in Mosquitto's $7$ form (see MosquittoHash).
type MosquittoService struct {
	Username string
	Hash     string
}

// MosquittoExport is what ExportMosquitto wrote.
type MosquittoExport struct {
	Devices  int                // devices written to the password file
	Skipped  []revloop.DeviceID // active devices without a kept Mosquitto hash
	Services int
}

// ExportMosquitto writes a Mosquitto password file (one user:$7$... line per
// active device and service account) and an ACL file that confines each
// device to its own topics:
//
//	pattern write revloop/v1/%u/gps      publish its uplink channels only
//	...                                  (fill, rfid, weight, status)
//	pattern read  revloop/v1/%u/config   read its downlink config
//	user <service>                       the ingest consumer
//	topic read revloop/v1/#
//	topic write revloop/v1/+/config
//
// Mosquitto cannot verify argon2id, so the password file is built from the
// PBKDF2-SHA512 hash kept beside it at provisioning and rotation; devices
// provisioned with Options.NoMosquittoHash are skipped (rotate them to
// include them). Revoked and disabled devices are left out, so after
// re-exporting, a SIGHUP to Mosquitto locks them out.
func (r *Registry) ExportMosquitto(ctx context.Context, passwords, acl io.Writer, services []MosquittoService) (MosquittoExport, error) {
	var out MosquittoExport
	for _, s := range services {
		if s.Username == "" || strings.ContainsAny(s.Username, ": \t\r\n") {
			return out, revloop.Invalid("service", "username %q must be non-empty without ':' or spaces", s.Username)
		}
		if _, err := revloop.ParseDeviceID(s.Username); err == nil {
			if _, err := r.status(ctx, revloop.DeviceID(s.Username)); err == nil {
				return out, revloop.Invalid("service", "username %q is also a device id", s.Username)
			}
		}
		if !strings.HasPrefix(s.Hash, "$7$") {
			return out, revloop.Invalid("service", "hash of %q is not a $7$ hash", s.Username)
		}
	}
	pw := bufio.NewWriter(passwords)
	rows, err := r.db.Query(ctx, `SELECT id, mosquitto_hash FROM devices WHERE state = ? ORDER BY id`, string(StateActive))
	if err != nil {
		return out, fmt.Errorf("export mosquitto: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, hash string
		if err := rows.Scan(&id, &hash); err != nil {
			return out, fmt.Errorf("export mosquitto: %w", err)
		}
		if hash == "" {
			out.Skipped = append(out.Skipped, revloop.DeviceID(id))
			continue
		}
		fmt.Fprintf(pw, "%s:%s\n", id, hash)
		out.Devices++
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("export mosquitto: %w", err)
	}
	for _, s := range services {
		fmt.Fprintf(pw, "%s:%s\n", s.Username, s.Hash)
		out.Services++
	}
	if err := pw.Flush(); err != nil {
		return out, fmt.Errorf("export mosquitto: password file: %w", err)
	}
	var b strings.Builder
	b.WriteString("# revloop device ACL, written by `revloop device export-mosquitto`; do not edit.\n")
	b.WriteString("# Devices (username = device id) publish only under their own id and read only their config.\n")
	for _, ch := range UplinkChannels {
		fmt.Fprintf(&b, "pattern write revloop/v1/%%u/%s\n", ch)
	}
	b.WriteString("pattern read revloop/v1/%u/config\n")
	for _, s := range services {
		fmt.Fprintf(&b, "\n# service account\nuser %s\ntopic read revloop/v1/#\ntopic write revloop/v1/+/config\n", s.Username)
	}
	if _, err := io.WriteString(acl, b.String()); err != nil {
		return out, fmt.Errorf("export mosquitto: acl file: %w", err)
	}
	return out, nil
}
