//! Pages in the visitor's language: every text is a Fluent message in
//! `locales/<language>/main.ftl`, compiled into the binary.
//!
//! The language of a request is, in this order: the `lang` cookie the language switch
//! sets (`GET /language/{tag}`), the browser's `Accept-Language`, else English. To add a
//! language, add `locales/<tag>/main.ftl` with every message of `locales/en/main.ftl`
//! (the unit tests below compare them) and rebuild: the switch lists it by itself.
//!
//! Messages whose id ends in `-html` may contain markup; templates show them with
//! `page.html(...)|safe`, and they take no arguments. Every other message is escaped by
//! askama like any text, its arguments included.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, Datelike, Timelike, Utc};
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, static_loader};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: the pages are HTML with `lang`,
        // and the marks would end up in copied text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The cookie that remembers the language switch's choice (a year; no login needed).
pub const LANGUAGE_COOKIE: &str = "lang";

/// Every language there is a file for, English first, then by tag.
static LANGUAGES: LazyLock<Vec<LanguageIdentifier>> = LazyLock::new(|| {
    let mut languages: Vec<LanguageIdentifier> = LOCALES.locales().cloned().collect();
    languages.sort_by_key(|lang| (lang != LOCALES.fallback(), lang.to_string()));
    languages
});

/// A language the site speaks: one of the folders in `locales/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lang(LanguageIdentifier);

impl Default for Lang {
    fn default() -> Self {
        Lang(LOCALES.fallback().clone())
    }
}

impl Lang {
    /// Every language the site speaks, English first.
    pub fn all() -> impl Iterator<Item = Lang> {
        LANGUAGES.iter().cloned().map(Lang)
    }

    /// The language with exactly this tag (`nl`), if the site speaks it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let wanted: LanguageIdentifier = tag.parse().ok()?;
        LANGUAGES
            .iter()
            .find(|lang| **lang == wanted)
            .cloned()
            .map(Lang)
    }

    /// The language for a request: the switch's cookie if it names a language we
    /// speak, else the best match for `Accept-Language`, else English.
    pub fn of_request(req: &HttpRequest) -> Lang {
        let cookie = req.cookie(LANGUAGE_COOKIE);
        let accept = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok());
        Lang::choose(cookie.as_ref().map(|cookie| cookie.value()), accept)
    }

    /// `of_request`'s rule on plain values.
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::from_tag) {
            return lang;
        }
        let requested = preferred_languages(accept_language.unwrap_or(""));
        let default = LOCALES.fallback();
        fluent_langneg::negotiate_languages(
            &requested,
            &LANGUAGES,
            Some(default),
            fluent_langneg::NegotiationStrategy::Lookup,
        )
        .first()
        .map(|lang| Lang((*lang).clone()))
        .unwrap_or_default()
    }

    /// The tag, for `<html lang>` and the cookie (`en`, `nl`).
    pub fn tag(&self) -> String {
        self.0.to_string()
    }

    /// The language's own name (`Nederlands`), for the switch.
    pub fn name(&self) -> String {
        self.text("language-name")
    }

    /// The message `id` in this language.
    pub fn text(&self, id: &str) -> String {
        self.lookup(id, None)
    }

    /// The message `id` in this language, with arguments (text or numbers).
    pub fn text_with(&self, id: &str, args: &[(&'static str, FluentValue<'_>)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), value.clone()))
            .collect();
        self.lookup(id, Some(&args))
    }

    /// A moment as this language writes it: `2 December 2026, 14:05 UTC`, with seconds
    /// when `seconds` is set.
    pub fn datetime(&self, at: &DateTime<Utc>, seconds: bool) -> String {
        let time = if seconds {
            format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
        } else {
            format!("{:02}:{:02}", at.hour(), at.minute())
        };
        let month = self.text(&format!("month-{}", at.month()));
        self.text_with(
            "datetime",
            &[
                ("day", at.day().into()),
                ("month", month.into()),
                ("year", at.year().to_string().into()),
                ("time", time.into()),
            ],
        )
    }

    /// A missing message is a bug, never a failed page: it is logged, and the English
    /// text (or, missing there too, the id) is shown instead.
    fn lookup(
        &self,
        id: &str,
        args: Option<&HashMap<Cow<'static, str>, FluentValue<'_>>>,
    ) -> String {
        if let Ok(text) = LOCALES.lookup_single_language(&self.0, id, args) {
            return text;
        }
        log::warn!("missing text: no message {id:?} in {}", self.0);
        LOCALES
            .lookup_single_language(LOCALES.fallback(), id, args)
            .unwrap_or_else(|_| id.to_owned())
    }
}

/// The request's language as a handler argument (`lang: Lang`), by `Lang::of_request`.
impl actix_web::FromRequest for Lang {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Lang, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Lang::of_request(req)))
    }
}

/// The languages of an `Accept-Language` header, most wanted first: ordered by their
/// `q` weight (the negotiation itself only looks at the order), those with `q=0` left out.
fn preferred_languages(header: &str) -> Vec<LanguageIdentifier> {
    let mut weighted: Vec<(LanguageIdentifier, f32)> = header
        .split(',')
        .take(20)
        .filter_map(|item| {
            let mut parts = item.split(';');
            let lang: LanguageIdentifier = parts.next()?.trim().parse().ok()?;
            let weight = parts
                .filter_map(|param| {
                    let (name, value) = param.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("q").then_some(value)
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // A weight is 0 to 1; NaN (and anything else unparsable) counts as not wanted.
            let weight = if weight.is_nan() {
                0.0
            } else {
                weight.clamp(0.0, 1.0)
            };
            (weight > 0.0).then_some((lang, weight))
        })
        .collect();
    // Stable: equal weights keep the header's order.
    weighted.sort_by(|a, b| b.1.total_cmp(&a.1));
    weighted.into_iter().map(|(lang, _)| lang).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The message ids of a `.ftl` file: the lines that start with `id =`.
    fn message_ids(ftl: &str) -> BTreeSet<String> {
        ftl.lines()
            .filter_map(|line| {
                let (id, _) = line.split_once(" =")?;
                (!id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .then(|| id.to_owned())
            })
            .collect()
    }

    fn ftl_of(lang: &Lang) -> String {
        let path = format!(
            "{}/locales/{}/main.ftl",
            env!("CARGO_MANIFEST_DIR"),
            lang.tag()
        );
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    #[test]
    fn every_language_has_every_message_of_english_and_no_other() {
        let english = message_ids(&ftl_of(&Lang::default()));
        assert!(
            english.len() > 100,
            "the English file is read: {}",
            english.len()
        );
        for lang in Lang::all() {
            let ids = message_ids(&ftl_of(&lang));
            let missing: Vec<_> = english.difference(&ids).collect();
            let extra: Vec<_> = ids.difference(&english).collect();
            assert!(
                missing.is_empty(),
                "{}: missing messages {missing:?}",
                lang.tag()
            );
            assert!(
                extra.is_empty(),
                "{}: messages English lacks {extra:?}",
                lang.tag()
            );
        }
    }

    #[test]
    fn messages_with_markup_take_no_arguments() {
        // `page.html(...)|safe` shows these unescaped: an argument (`{ $name }`) could carry
        // a visitor's or the provider's text into the page as markup.
        for lang in Lang::all() {
            let ftl = ftl_of(&lang);
            let mut current: Option<&str> = None;
            for line in ftl.lines() {
                if let Some((id, _)) = line.split_once(" =")
                    && !id.starts_with(' ')
                    && !id.starts_with('#')
                {
                    current = Some(id);
                }
                if current.is_some_and(|id| id.ends_with("-html")) {
                    assert!(!line.contains('{'), "{}: {line}", lang.tag());
                }
            }
        }
    }

    #[test]
    fn the_site_speaks_english_and_dutch() {
        let tags: Vec<String> = Lang::all().map(|lang| lang.tag()).collect();
        assert_eq!(tags, ["en", "nl"]);
        assert_eq!(
            Lang::from_tag("nl").map(|lang| lang.name()).as_deref(),
            Some("Nederlands")
        );
        assert_eq!(Lang::from_tag("de"), None);
        assert_eq!(Lang::from_tag("<script>"), None);
    }

    #[test]
    fn the_cookie_wins_then_accept_language_by_weight_then_english() {
        let tag = |cookie, accept| Lang::choose(cookie, accept).tag();
        assert_eq!(tag(None, None), "en");
        assert_eq!(tag(None, Some("nl-NL,nl;q=0.9,en;q=0.8")), "nl");
        assert_eq!(
            tag(None, Some("nl-BE")),
            "nl",
            "a region of a language we speak"
        );
        assert_eq!(
            tag(None, Some("en;q=0.2, nl;q=0.9")),
            "nl",
            "weights, not order"
        );
        assert_eq!(tag(None, Some("nl;q=0, en")), "en", "q=0 means not wanted");
        assert_eq!(
            tag(None, Some("nl;q=0")),
            "en",
            "not wanted, even as the only one"
        );
        assert_eq!(tag(None, Some("en;Q=0.1, nl")), "nl", "Q is q");
        assert_eq!(
            tag(None, Some("en;q=inf, nl;q=1")),
            "en",
            "above 1 is 1: order decides"
        );
        assert_eq!(tag(None, Some("nl;q=NaN, en;q=0.5")), "en");
        assert_eq!(tag(None, Some("de-DE,fr;q=0.5")), "en", "nothing we speak");
        assert_eq!(tag(None, Some("nonsense;;;,,")), "en");
        assert_eq!(
            tag(Some("nl"), Some("en")),
            "nl",
            "the switch's choice wins"
        );
        assert_eq!(
            tag(Some("xx"), Some("nl")),
            "nl",
            "an unknown cookie is ignored"
        );
    }

    #[test]
    fn a_missing_message_falls_back_to_english_then_to_its_id() {
        let dutch = Lang::from_tag("nl").unwrap_or_default();
        assert_eq!(dutch.text("no-such-message"), "no-such-message");
        assert_eq!(dutch.text("log-out"), "Uitloggen");
    }

    #[test]
    fn dates_and_plurals_read_as_each_language_writes_them() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T09:05:07Z")
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default();
        let english = Lang::default();
        let dutch = Lang::from_tag("nl").unwrap_or_default();
        assert_eq!(english.datetime(&at, false), "2 December 2026, 09:05 UTC");
        assert_eq!(dutch.datetime(&at, true), "2 december 2026, 09:05:07 UTC");
        let days =
            |lang: &Lang, n: i64| lang.text_with("delete-stays-record", &[("days", n.into())]);
        assert!(
            days(&english, 1).ends_with("after 1 day."),
            "{}",
            days(&english, 1)
        );
        assert!(days(&english, 14).ends_with("after 14 days."));
        assert!(days(&dutch, 14).ends_with("na 14 dagen."));
    }
}
