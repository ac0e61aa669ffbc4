// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "security_event_kind"))]
    pub struct SecurityEventKind;
}

diesel::table! {
    ended_sessions (session_id) {
        session_id -> Text,
        ended_at -> Timestamptz,
    }
}

diesel::table! {
    login_rate_limits (client) {
        client -> Text,
        tat -> Timestamptz,
    }
}

diesel::table! {
    notes (id) {
        id -> Int8,
        user_id -> Int8,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sandbox_logins (request_id) {
        request_id -> Text,
        token -> Text,
        token_sha256 -> Text,
        redirect_url -> Text,
        issued_at -> Timestamptz,
        state -> Text,
        user_json -> Nullable<Text>,
    }
}

diesel::table! {
    sandbox_people (sub) {
        sub -> Text,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        email_verified -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::SecurityEventKind;

    security_events (id) {
        id -> Int8,
        user_id -> Nullable<Int8>,
        kind -> SecurityEventKind,
        detail -> Nullable<Jsonb>,
        ip_hash -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    used_login_tokens (token_sha256) {
        token_sha256 -> Text,
        used_at -> Timestamptz,
    }
}

diesel::table! {
    user_sessions (id) {
        id -> Int8,
        token_sha256 -> Text,
        user_id -> Int8,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        email_verified -> Bool,
        picture_url -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        session_epoch -> Int4,
    }
}

diesel::table! {
    xwms_connections (id) {
        id -> Int8,
        user_id -> Int8,
        sub -> Text,
        created_at -> Timestamptz,
        last_login_at -> Timestamptz,
        provider -> Text,
    }
}

diesel::joinable!(notes -> users (user_id));
diesel::joinable!(security_events -> users (user_id));
diesel::joinable!(user_sessions -> users (user_id));
diesel::joinable!(xwms_connections -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    ended_sessions,
    login_rate_limits,
    notes,
    sandbox_logins,
    sandbox_people,
    security_events,
    used_login_tokens,
    user_sessions,
    users,
    xwms_connections,
);
