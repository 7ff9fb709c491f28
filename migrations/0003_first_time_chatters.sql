-- First-time chatters per window (WindowAggregate.chat.first_time_chatters and
-- first_time_messages, see proto/telemetra/v1/records.proto): chatters new to the channel in
-- the window, and their messages in it. Rows projected before this migration read 0.
ALTER TABLE window_aggregates
    ADD COLUMN first_time_chatters bigint NOT NULL DEFAULT 0,
    ADD COLUMN first_time_messages bigint NOT NULL DEFAULT 0;
