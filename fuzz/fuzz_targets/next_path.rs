//! Fuzzes `safe_next_path`, which decides whether `?next=` may be used as a redirect
//! target after login. It must never panic, and whatever it keeps must be a path that
//! stays on our own site, raw or percent-decoded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use url::Url;
use xwms_starter::support::urls::safe_next_path;

fuzz_target!(|input: &[u8]| {
    // Query values reach the handler as `String`, so only UTF-8 is meaningful.
    let Ok(raw) = std::str::from_utf8(input) else {
        return;
    };
    let Some(path) = safe_next_path(raw) else {
        return;
    };

    assert_eq!(path, raw, "kept a different string");
    assert!(path.starts_with('/'), "not a path: {path:?}");
    assert!(!path.starts_with("//"), "protocol-relative: {path:?}");
    assert!(!path.starts_with("/\\"), "backslash-relative: {path:?}");
    assert!(!path.contains('\\'), "backslash: {path:?}");
    assert!(!path.chars().any(char::is_control), "control char: {path:?}");
    assert!(!path.chars().any(char::is_whitespace), "whitespace: {path:?}");

    let base = Url::parse("http://app.invalid/").expect("a valid base URL");
    let joined = base
        .join(&path)
        .unwrap_or_else(|err| panic!("kept {path:?} but it does not join: {err}"));
    assert_eq!(joined.scheme(), "http", "{path:?} -> {joined}");
    assert_eq!(joined.host_str(), Some("app.invalid"), "{path:?} -> {joined}");
    assert_eq!(joined.port(), None, "{path:?} -> {joined}");

    let decoded = percent_decode_str(&path).decode_utf8_lossy();
    assert!(!decoded.starts_with("//"), "decodes to protocol-relative: {path:?} -> {decoded:?}");
    assert!(!decoded.contains('\\'), "decodes to a backslash: {path:?} -> {decoded:?}");
    assert!(
        !decoded.chars().any(char::is_control),
        "decodes to a control char: {path:?} -> {decoded:?}"
    );
});
