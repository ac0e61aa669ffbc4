-- "Delete my account" leaves one record that it happened: an `account_deleted` event. It is
-- written in the deleting transaction with the user's id, so the user's deletion turns it,
-- like every other event of theirs, into an anonymous one (no user, no IP hash, no user
-- agent, no detail; see migration 7): what happened and when, nothing about whom.
ALTER TYPE security_event_kind ADD VALUE 'account_deleted';
-- "Download my data" is recorded too: a stolen session could take everything in one request,
-- and the person should see that it happened.
ALTER TYPE security_event_kind ADD VALUE 'data_exported';
