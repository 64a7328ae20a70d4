// Package alerts keeps revloop's alerts (bin full, fire suspicion, tilt,
// device offline, vehicle at a closed site) in a durable outbox and delivers
// them to webhook subscribers.
//
//	cause (fence event, fill reading, device event)
//	  └─▶ Raise in the cause's transaction ──▶ alerts + alert_deliveries (outbox)
//	                                              │
//	        Deliverer.Run (poll, claim by lease) ◀┘
//	          └─▶ POST url, X-Revloop-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//	                2xx: delivered; otherwise retried with exponential backoff,
//	                dead after MaxAttempts (listed with state=dead, retried on demand)
//
// Raising is idempotent: an alert carries a key (OpenKey) that is unique
// among stored alerts while it is set, so a cause delivered twice raises one
// alert. Condition alerts (bin full, fire, tilt) keep their key until they
// are resolved; one-off alerts (device offline, closed site) keep it for
// good. Apply (or ApplyIn, in the caller's transaction) stores a batch of
// raises and resolves in order in one transaction, for observers that decide
// many transitions at once. Because the outbox lives in the state store,
// nothing raised is lost across a restart: a new Deliverer over the same
// database sends whatever is still pending.
package alerts
