//! URLs that come from outside (configuration, XWMS's answers, a form): the one check
//! that decides whether a text is a web address we may store, call or send a browser to.

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

#[cfg(test)]
mod tests {
    use super::absolute_http_url;

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
}
