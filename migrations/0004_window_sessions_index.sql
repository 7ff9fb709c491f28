-- A session's windows, by channel and session: the projector recomputes the sessions of every
-- batch from their windows (views/projector refreshSessions), which without this index reads
-- every window of the channel, or the whole table when the planner joins a batch's sessions in
-- one go.
CREATE INDEX window_aggregates_session_idx ON window_aggregates (channel, session_id);
