//! A browser and system named from a user agent, for "your devices": "Firefox on Linux".
//!
//! woothee reads the user agent (its dataset knows the common browsers, systems and
//! crawlers); this module only renames what a person would not say ("Mac OSX") and drops
//! what it does not know.

use crate::support::i18n::Lang;

/// What a user agent says about the device behind it; `None` where it says nothing we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub browser: Option<String>,
    pub system: Option<String>,
}

impl Device {
    pub fn of(user_agent: Option<&str>) -> Self {
        let parsed = user_agent.and_then(|agent| woothee::parser::Parser::new().parse(agent));
        let known = |value: &str| !value.is_empty() && value != woothee::woothee::VALUE_UNKNOWN;
        Self {
            browser: parsed
                .as_ref()
                .map(|parsed| parsed.name)
                .filter(|name| known(name))
                .map(str::to_owned),
            system: parsed
                .as_ref()
                .map(|parsed| parsed.os)
                .filter(|os| known(os))
                .map(|os| plain_system_name(os).to_owned()),
        }
    }

    /// "Firefox on Linux", or as much of it as is known, in `lang`.
    pub fn describe(&self, lang: &Lang) -> String {
        match (&self.browser, &self.system) {
            (Some(browser), Some(system)) => lang.text_with(
                "device-browser-on-system",
                &[
                    ("browser", browser.as_str().into()),
                    ("system", system.as_str().into()),
                ],
            ),
            (Some(browser), None) => browser.clone(),
            (None, Some(system)) => {
                lang.text_with("device-on-system", &[("system", system.as_str().into())])
            }
            (None, None) => lang.text("device-unknown"),
        }
    }
}

/// Names as people say them. A user agent cannot tell Windows 11 from Windows 10 (both
/// send "Windows NT 10.0"), so neither is named.
fn plain_system_name(os: &str) -> &str {
    match os {
        "Mac OSX" => "macOS",
        "Windows 10" => "Windows",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(user_agent: &str) -> (Option<String>, Option<String>) {
        let device = Device::of(Some(user_agent));
        (device.browser, device.system)
    }

    fn named(browser: &str, system: &str) -> (Option<String>, Option<String>) {
        (Some(browser.to_owned()), Some(system.to_owned()))
    }

    #[test]
    fn common_browsers_and_systems_are_named_as_people_say_them() {
        assert_eq!(
            device("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            named("Firefox", "Linux")
        );
        assert_eq!(
            device(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
            ),
            named("Edge", "Windows")
        );
        assert_eq!(
            device(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, \
                 like Gecko) Version/18.1 Safari/605.1.15"
            ),
            named("Safari", "macOS")
        );
        assert_eq!(
            device(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
            ),
            named("Safari", "iPhone")
        );
        assert_eq!(
            device(
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
            ),
            named("Chrome", "Android")
        );
    }

    #[test]
    fn what_is_not_known_is_left_out_and_said_plainly() {
        let lang = Lang::default();
        assert_eq!(
            Device::of(None).describe(&lang),
            lang.text("device-unknown")
        );
        assert_eq!(
            Device::of(Some("something/1.0")).describe(&lang),
            lang.text("device-unknown")
        );
        let firefox_on_linux = Device::of(Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ));
        assert_eq!(firefox_on_linux.describe(&lang), "Firefox on Linux");
        let browser_only = Device {
            browser: Some("Firefox".into()),
            system: None,
        };
        assert_eq!(browser_only.describe(&lang), "Firefox");
    }
}
