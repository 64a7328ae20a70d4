-- Read-path indexes for compliance reports over the yard's and the
-- dispatcher's records (period tonnage, stock at an instant, customer
-- volumes, service figures).
CREATE INDEX IF NOT EXISTS yard_lot_history_transition ON yard_lot_history (transition, role);

CREATE INDEX IF NOT EXISTS yard_lot_history_lot_role ON yard_lot_history (lot, role, ts_ms);

CREATE INDEX IF NOT EXISTS yard_lots_shipment ON yard_lots (shipment);

CREATE INDEX IF NOT EXISTS yard_lots_customer ON yard_lots (customer);

CREATE INDEX IF NOT EXISTS yard_transitions_kind_time ON yard_transitions (kind, ts_ms);

CREATE INDEX IF NOT EXISTS pickups_customer_window ON pickups (customer_id, window_from_ms);

CREATE INDEX IF NOT EXISTS complaints_customer_opened ON complaints (customer_id, opened_ms);
