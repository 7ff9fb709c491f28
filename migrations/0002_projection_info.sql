-- Which processor generation's output topics this schema is a projection of. A projector
-- reading another generation's topics refuses to write here: after a replay swapped in a
-- projection of a new generation, an old projector stops instead of mixing in its records.
CREATE TABLE projection_info (
    singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    generation   integer     NOT NULL CHECK (generation >= 1),
    rebuilt_at   timestamptz,          -- set by telemetra replay when it swaps this schema in
    created_at   timestamptz NOT NULL DEFAULT now()
);
