// Package accounts keeps who may call the API: API tokens with their role
// (and, for customer tokens, the customer they are bound to), and the stored
// responses of requests sent with an Idempotency-Key.
//
// A token's secret is shown once, when it is created; only its SHA-256 hash
// is stored. Secrets are 32 random bytes, so a fast hash is enough: there is
// nothing to brute-force. Verify keeps a small in-memory cache of recently
// verified tokens so that the state store is not queried on every request;
// a revocation through the same Store takes effect at once, one made by
// another process within CacheTTL.
package accounts
