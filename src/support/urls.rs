//! URLs that come from outside (configuration, XWMS's answers, a form, `?next=`): the
//! checks that decide whether a text is a web address we may store, call or send a
//! browser to, and whether a return path stays on this site.

use url::Url;

/// `text` (trimmed) as an absolute `http://` or `https://` URL with a host, or `None`.
///
/// The text itself must start with `http://` or `https://` (any case): a URL parser
/// repairs `https:./x` or `http:evil.example` into something with a host, and such a
/// repaired address is not the one that was sent. The answer is the parser's normalised
/// form (`HTTPS://CDN.x` becomes `https://cdn.x/`).
pub fn absolute_http_url(text: &str) -> Option<Url> {
    let text = text.trim();
    let scheme_end = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    if !(scheme_end.starts_with("http://") || scheme_end.starts_with("https://")) {
        return None;
    }
    let url = Url::parse(text).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(url)
}

/// Longest `next` path we keep.
const MAX_NEXT_CHARS: usize = 512;

/// Returns `raw` if it is a same-site path (`/profile?tab=1`), else `None`.
///
/// Refused: anything not starting with one `/` (`//evil`, `https://evil`), backslashes
/// (`/\evil`, which browsers treat as `//evil`), control characters and whitespace
/// (raw or percent-encoded), and anything that still looks like one of those once
/// percent-decoded (`/%2F%2Fevil`). A raw `"` is refused too: browsers always send it
/// as `%22`, and in the session cookie each one would take four bytes.
pub fn safe_next_path(raw: &str) -> Option<String> {
    fn acceptable(path: &str) -> bool {
        path.starts_with('/')
            && !path.starts_with("//")
            && !path.contains('\\')
            && !path.chars().any(char::is_control)
    }
    if raw.is_empty()
        || raw.len() > MAX_NEXT_CHARS
        || raw.chars().any(char::is_whitespace)
        || raw.contains('"')
        || !acceptable(raw)
    {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    if !acceptable(&decoded) {
        return None;
    }
    // Final word to a real URL parser: joined onto our origin, it must stay there.
    let base = url::Url::parse("http://app.invalid/").ok()?;
    let joined = base.join(raw).ok()?;
    (joined.origin() == base.origin()).then(|| raw.to_owned())
}

/// The XWMS base URL, ending in `/` so that `join("sign-token")` keeps the `/api` segment.
pub fn parse_base_url(value: &str) -> Result<Url, &'static str> {
    let mut url = absolute_http_url(value).ok_or("must be an absolute http:// or https:// URL")?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// A local demo or a sidecar: the one place production may use plain http.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{absolute_http_url, safe_next_path};

    #[test]
    fn only_absolute_http_urls_with_a_host_pass() {
        for (text, kept) in [
            ("https://xwms.nl/api/", Some("https://xwms.nl/api/")),
            (
                " HTTPS://CDN.xwms.nl/a.png ",
                Some("https://cdn.xwms.nl/a.png"),
            ),
            ("http://localhost:3000/x", Some("http://localhost:3000/x")),
            ("https:./cdn.xwms.nl/a.png", None),
            ("http:evil.example/x.png", None),
            ("//evil.example/x.png", None),
            ("javascript:alert(1)", None),
            ("data:image/png;base64,AAAA", None),
            ("ftp://files.example/x", None),
            ("https://", None),
            ("", None),
        ] {
            assert_eq!(
                absolute_http_url(text)
                    .map(|url| url.to_string())
                    .as_deref(),
                kept,
                "{text:?}"
            );
        }
    }

    #[test]
    fn same_site_paths_are_kept() {
        for path in ["/", "/profile", "/profile?tab=activity", "/a/b%20c"] {
            assert_eq!(safe_next_path(path).as_deref(), Some(path), "{path}");
        }
    }

    #[test]
    fn anything_that_could_leave_the_site_is_refused() {
        for path in [
            "",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "http:/evil",
            "evil.example",
            "/%2F%2Fevil.example",
            "/%5Cevil.example",
            "%2F%2Fevil",
            "/\t/evil",
            "/ /evil",
            "/%0d%0aSet-Cookie:x",
            "/%09/evil",
            "javascript:alert(1)",
            "/notes?q=\"x\"",
        ] {
            assert_eq!(safe_next_path(path), None, "{path:?}");
        }
        assert_eq!(safe_next_path(&format!("/{}", "a".repeat(600))), None);
    }

    #[test]
    fn a_next_path_may_be_512_bytes_long_and_no_longer() {
        let longest = format!("/{}", "a".repeat(511));
        assert_eq!(safe_next_path(&longest).as_deref(), Some(longest.as_str()));
        assert_eq!(safe_next_path(&format!("/{}", "a".repeat(512))), None);
    }
}
