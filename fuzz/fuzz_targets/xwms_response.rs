//! Fuzzes what XWMS sends back: `parse_envelope`, then `parse_sign_token` and
//! `parse_verified_user` on whatever it accepts.
//!
//! Input: the first byte picks the HTTP status, `STATUSES[byte % 8]` (the seeds use the
//! ASCII digits '0'..='7', so '0' is 200 and '6' is 500); the rest is the response body.
//! Nothing may panic, and what the parsers hand back must keep their promises.

#![no_main]

use actix_web::http::StatusCode;
use libfuzzer_sys::fuzz_target;
use url::Url;
use xwms_starter::xwms::XwmsError;
use xwms_starter::xwms::client::{
    MAX_SUB_CHARS, parse_envelope, parse_sign_token, parse_verified_user,
};

const STATUSES: [u16; 8] = [200, 201, 302, 400, 401, 404, 500, 503];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let status = StatusCode::from_u16(STATUSES[usize::from(selector) % STATUSES.len()])
        .expect("the table holds valid status codes");

    let envelope = match parse_envelope(status, body) {
        Ok(envelope) => envelope,
        Err(err) => {
            // Redirects and 5xx are refused before the body is even looked at.
            if status.is_redirection() {
                assert!(matches!(err, XwmsError::Redirected { .. }), "{status}: {err:?}");
            }
            if status.is_server_error() {
                assert!(matches!(err, XwmsError::ServerError { .. }), "{status}: {err:?}");
            }
            if let XwmsError::Refused { message, .. } = &err {
                assert!(!message.is_empty() && message.chars().count() <= 200, "{message:?}");
            }
            return;
        }
    };
    assert!(status.is_success(), "non-2xx {status} accepted");
    assert!(envelope["data"].is_object(), "data not normalised: {envelope}");

    if let Ok(signed) = parse_sign_token(&envelope) {
        let url = &signed.login_url;
        assert!(
            matches!(url.scheme(), "http" | "https"),
            "login_url scheme {:?}: {url}",
            url.scheme()
        );
        assert!(url.host_str().is_some(), "login_url without host: {url}");
    }

    if let Ok(user) = parse_verified_user(&envelope, "xwms:fuzz") {
        let sub = &user.sub;
        assert!(!sub.is_empty(), "empty sub");
        assert!(sub.chars().count() <= MAX_SUB_CHARS, "sub of {} chars", sub.chars().count());
        assert!(!sub.chars().any(char::is_control), "control char in sub {sub:?}");
        assert_eq!(sub.trim(), sub, "sub not trimmed: {sub:?}");

        if let Some(picture) = &user.picture {
            let lower = picture.to_ascii_lowercase();
            assert!(
                lower.starts_with("http://") || lower.starts_with("https://"),
                "picture is not an http(s) URL: {picture:?}"
            );
            let parsed = Url::parse(picture).expect("a kept picture parses");
            assert!(matches!(parsed.scheme(), "http" | "https"), "{picture:?}");
        }
        if let Some(email) = &user.email {
            assert!(email.contains('@'), "email without @: {email:?}");
            assert!(email.chars().count() <= 254, "email of {} chars", email.chars().count());
            assert!(!email.chars().any(char::is_control), "control char in email {email:?}");
        }
        if let Some(name) = &user.name {
            assert!(!name.is_empty() && name.chars().count() <= 200, "name {name:?}");
            assert!(!name.chars().any(char::is_control), "control char in name {name:?}");
        }
        assert!(!user.email_verified || user.email.is_some(), "verified without email");
    }
});
