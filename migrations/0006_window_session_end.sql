-- The stream_end of a window's session as of the window's latest event (StreamStatus.ended_at):
-- a session's end is read from its own windows. Before, it was read from the channel's row,
-- which holds only the latest session's end, so a session whose end and the next start were
-- projected in one batch (a history, a replay) stayed without an end. Rows projected before
-- this migration read NULL; refreshSessions then falls back as it did.
ALTER TABLE window_aggregates ADD COLUMN session_ended_at timestamptz;
