// Package devices is revloop's device registry: identities, what each device
// is attached to, per-device MQTT credentials, health and downlink
// configuration.
//
// A device is provisioned with a random 32-byte secret (base64url) that is
// shown once; the registry keeps only an argon2id hash of it in PHC form and,
// for deployments behind Mosquitto, the same secret hashed in Mosquitto's
// PBKDF2-SHA512 ($7$) form so that `revloop device export-mosquitto` can
// write a password file Mosquitto verifies itself.
//
// The pieces that plug into the rest of revloop:
//
//	Registry      devices, credentials, claim tokens, config versions (state store)
//	MQTTAuth      mochi-mqtt hook: CONNECT authentication and topic ACL
//	Checker       ingest.DeviceChecker: re-checks the publishing device
//	Health        ingest.Observer: last seen, battery, signal, offline events
//	Downlink      publishes retained revloop/v1/<id>/config messages
//
// Changes made through a Registry (rotate, revoke, disable) are announced to
// its subscribers at once, so the MQTT hook drops cached credentials and
// disconnects the device's live sessions, and the checker forgets its
// verdict. Changes made by another process on the same state store are seen
// on the next CONNECT (the cache is keyed by the stored hash) and by
// MQTTAuth.Run's periodic sweep of live sessions.
//
// Wiring in `revloop serve` (embedded broker with Options.InlineClient):
//
//	reg := devices.NewRegistry(db, log, devices.Options{})
//	auth := devices.NewMQTTAuth(reg, devices.ServiceAccount{Username: "ingest", Secret: ingestPassword})
//	auth.SetLogger(log)
//	broker.AddHook(auth, nil)        // before broker.Serve
//	go auth.Run(ctx, 30*time.Second) // catches changes made by other processes
//	checker := devices.NewChecker(reg, 10*time.Second) // ingest DeviceChecker
//	health := devices.NewHealth(reg, log, devices.HealthOptions{})
//	health.Load(ctx)
//	go health.Run(ctx)                          // ingest Observer
//	downlink := devices.NewDownlink(reg, broker) // (*mqtt.Server).Publish is a Publisher
package devices
