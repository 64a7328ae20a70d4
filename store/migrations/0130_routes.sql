-- Route plans: the request given to the planner and its result, proposed,
-- committed (pickups marked planned) or superseded by a re-plan.
CREATE TABLE IF NOT EXISTS route_plans (
    id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    status TEXT NOT NULL,
    parent_id TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    committed_ms BIGINT NOT NULL DEFAULT 0,
    committed_by TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    changes TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS route_plans_day ON route_plans (day, created_ms);
