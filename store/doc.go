// Package store is revloop's relational state store: devices, customers,
// sites, pickups, routes, lots and the custody log. It runs on an embedded
// SQLite file by default and on PostgreSQL in production; both take the same
// SQL, written with ? placeholders and the portable types below, and the same
// versioned migrations.
//
// Portable SQL used by every migration and query:
//   - times are BIGINT Unix milliseconds (see Millis and FromMillis);
//   - booleans are BOOLEAN, JSON documents TEXT, identifiers TEXT;
//   - {{serial}} in a migration becomes an auto-incrementing primary key and
//     {{blob}} a byte string column.
//
// Migrations live in migrations/NNNN_name.sql and are applied in number order,
// each once, at start-up and by `revloop migrate`. Number ranges keep domains
// apart: 0001-0099 core and devices, 0100-0199 dispatcher, 0200-0299 yard,
// 0300-0399 compliance.
package store
