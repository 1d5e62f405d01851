-- 0008 sim world: which simulated exchange state (``<store>.sim.json``) this store belongs to.
-- One row at most; written when a sim-mode daemon first starts on the store. Paper/live stores never get one.

CREATE TABLE sim_world (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    world_id    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
