//! The XWMS API client: three calls, one envelope, and every way they can fail.
//!
//! Everything XWMS sends is untrusted input. It is parsed by pure functions
//! (`parse_sign_token`, `parse_verified_user`) that accept the shapes XWMS is known
//! to send (`data` flat or nested, `sub` as string or number, `data: []` from PHP)
//! and refuse the rest with a typed error.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, HttpDate};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::domain::accounts::VerifiedIdentity;
use crate::support::config::XwmsCredentials;
use crate::support::metrics::Metrics;
use crate::support::urls::absolute_http_url;

/// Largest response body we read from XWMS. A login answer is a few hundred bytes;
/// anything near this limit is broken or hostile.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest `sub` we store. XWMS ids are short; a huge one is refused, not truncated,
/// because a truncated id could collide with another person's.
pub const MAX_SUB_CHARS: usize = 255;
const MAX_NAME_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_PICTURE_CHARS: usize = 2048;

/// What is needed to build a client; shared by every worker.
#[derive(Debug, Clone)]
pub struct XwmsConfig {
    pub api_url: Url,
    pub credentials: XwmsCredentials,
    pub timeout: Duration,
    /// Names this provider in every identity it vouches for: `sandbox`, or
    /// `xwms:<API host>` (see [`XwmsConfig::provider_for`]).
    pub provider: String,
}

impl XwmsConfig {
    /// `xwms:<host>[:<port>]` for an XWMS API at `api_url`: identities from two XWMS
    /// installations (production and a test instance, say) never share an account.
    pub fn provider_for(api_url: &Url) -> String {
        let host = api_url.host_str().unwrap_or_default();
        match api_url.port() {
            Some(port) => format!("xwms:{host}:{port}"),
            None => format!("xwms:{host}"),
        }
    }
}

/// Talks to XWMS (or the sandbox, which speaks the same protocol).
///
/// `awc::Client` is not `Send`, so each actix worker builds its own in the app factory.
#[derive(Clone)]
pub struct XwmsClient {
    http: awc::Client,
    config: Arc<XwmsConfig>,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for XwmsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `XwmsConfig`'s Debug redacts the secret (it is a `SecretString`).
        f.debug_struct("XwmsClient")
            .field("config", &self.config)
            .finish()
    }
}

/// Why a call to XWMS did not give us what we need.
#[derive(Debug, thiserror::Error)]
pub enum XwmsError {
    #[error("XWMS did not answer within {0:?}")]
    Timeout(Duration),
    #[error("could not reach XWMS: {0}")]
    Unreachable(String),
    /// The call reached XWMS and XWMS said no (error envelope or 4xx).
    #[error("XWMS refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// A 401/403, whatever its body: our credentials were refused. An operator's
    /// problem, never the visitor's.
    #[error(
        "XWMS refused our client credentials (HTTP {status}): check XWMS_CLIENT_ID, XWMS_CLIENT_SECRET and XWMS_CLIENT_DOMAIN"
    )]
    Unauthorized { status: u16 },
    /// XWMS answered with a 5xx.
    #[error("XWMS failed (HTTP {status})")]
    ServerError { status: u16 },
    #[error("XWMS answered with a redirect (HTTP {status}); redirects are never followed")]
    Redirected { status: u16 },
    #[error("XWMS's answer was larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("XWMS's answer could not be used: {0}")]
    InvalidResponse(String),
}

/// The answer to `sign-token`: where to send the browser, and the token to expect back.
pub struct SignedToken {
    pub token: SecretString,
    pub login_url: Url,
}

impl fmt::Debug for SignedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedToken")
            .field("token", &"[REDACTED]")
            .field("login_url", &self.login_url.origin().ascii_serialization())
            .finish()
    }
}

impl XwmsClient {
    pub fn new(config: Arc<XwmsConfig>, metrics: Arc<Metrics>) -> Self {
        let http = awc::Client::builder()
            // A redirect would carry our client secret to another host: never follow one.
            .disable_redirects()
            .timeout(config.timeout)
            .connector(awc::Connector::new().timeout(config.timeout))
            .finish();
        Self {
            http,
            config,
            metrics,
        }
    }

    /// `GET info`: used by `/health` to tell whether XWMS answers.
    pub async fn info(&self) -> Result<(), XwmsError> {
        self.info_with_date().await.map(|_| ())
    }

    /// `GET info`, and the time XWMS's answer carried in its HTTP `Date` header (when it
    /// sent one): `xwms-starter doctor` compares it with this machine's clock.
    pub async fn info_with_date(&self) -> Result<Option<SystemTime>, XwmsError> {
        self.call(actix_web::http::Method::GET, "info", None)
            .await
            .map(|answer| answer.date)
    }

    /// `POST sign-token`: starts a login. XWMS remembers `redirect_url` and returns the
    /// URL of its login page, which the browser is sent to.
    pub async fn sign_token(&self, redirect_url: &Url) -> Result<SignedToken, XwmsError> {
        let body = serde_json::json!({ "redirect_url": redirect_url.as_str() });
        let answer = self
            .call(actix_web::http::Method::POST, "sign-token", Some(body))
            .await?;
        parse_sign_token(&answer.envelope)
    }

    /// `POST sign-token-verify`: trades the callback token for the person's data.
    ///
    /// Tokens are single use, so this is never retried: a retry after a lost answer
    /// would be refused by XWMS anyway and would only hide the first failure.
    pub async fn verify_token(
        &self,
        token: &str,
        redirect_url: &Url,
    ) -> Result<VerifiedIdentity, XwmsError> {
        let body = serde_json::json!({ "token": token, "redirect_url": redirect_url.as_str() });
        let answer = self
            .call(
                actix_web::http::Method::POST,
                "sign-token-verify",
                Some(body),
            )
            .await?;
        parse_verified_user(&answer.envelope, &self.config.provider)
    }

    /// `POST get/user/info`: what XWMS knows about `sub` now (the profile's "Refresh from
    /// XWMS"). The body is what XWMS's own helpers send: the sub as a JSON number when it
    /// is one, and no social accounts. Fields XWMS sends as null (without the `userinfo`
    /// scope) come back as `None`.
    pub async fn user_info(&self, sub: &str) -> Result<VerifiedIdentity, XwmsError> {
        let body = serde_json::json!({ "sub": sub_as_json(sub), "socials": false });
        let answer = self
            .call(actix_web::http::Method::POST, "get/user/info", Some(body))
            .await?;
        parse_user_info(&answer.envelope, &self.config.provider, sub)
    }

    /// Names this provider in the identities it vouches for (`sandbox`, `xwms:<host>`).
    pub fn provider(&self) -> &str {
        &self.config.provider
    }

    /// The request for one endpoint, with XWMS's headers. The secret header is marked
    /// sensitive, so `Debug` of the request prints `Sensitive` instead of the secret.
    fn prepare(
        &self,
        method: actix_web::http::Method,
        endpoint: &str,
    ) -> Result<awc::ClientRequest, XwmsError> {
        let url = self
            .config
            .api_url
            .join(endpoint)
            .map_err(|err| XwmsError::InvalidResponse(format!("bad endpoint URL: {err}")))?;
        let credentials = &self.config.credentials;
        let mut secret =
            HeaderValue::from_str(credentials.client_secret.expose_secret()).map_err(|_| {
                XwmsError::InvalidResponse("the client secret is not a valid header".into())
            })?;
        secret.set_sensitive(true);
        Ok(self
            .http
            .request(method, url.as_str())
            .insert_header(("Accept", "application/json"))
            .insert_header(("X-Client-Id", credentials.client_id.as_str()))
            .insert_header(("X-Client-Secret", secret))
            .insert_header(("X-Client-Domain", credentials.client_domain.as_str())))
    }

    /// One call: headers, JSON body, a total time budget, a body size limit, the envelope.
    async fn call(
        &self,
        method: actix_web::http::Method,
        endpoint: &str,
        body: Option<Value>,
    ) -> Result<Answer, XwmsError> {
        let started = std::time::Instant::now();
        let outcome = self.exchange(method, endpoint, body).await;
        self.metrics
            .xwms_call(endpoint, outcome.is_ok(), started.elapsed());
        outcome
    }

    async fn exchange(
        &self,
        method: actix_web::http::Method,
        endpoint: &str,
        body: Option<Value>,
    ) -> Result<Answer, XwmsError> {
        let request = self.prepare(method, endpoint)?;

        // One budget for everything: connecting, headers, and a body that may trickle in.
        let budget = self.config.timeout;
        let exchange = async {
            let mut response = match body {
                Some(json) => request.send_json(&json).await,
                None => request.send().await,
            }
            .map_err(|err| match err {
                awc::error::SendRequestError::Timeout => XwmsError::Timeout(budget),
                other => XwmsError::Unreachable(other.to_string()),
            })?;
            let status = response.status();
            let date = response
                .headers()
                .get(actix_web::http::header::DATE)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<HttpDate>().ok())
                .map(SystemTime::from);
            let bytes =
                response
                    .body()
                    .limit(MAX_RESPONSE_BYTES)
                    .await
                    .map_err(|err| match err {
                        awc::error::PayloadError::Overflow => XwmsError::TooLarge,
                        other => XwmsError::Unreachable(format!("reading the answer: {other}")),
                    })?;
            Ok::<_, XwmsError>((status, date, bytes))
        };
        let (status, date, bytes) = tokio::time::timeout(budget, exchange)
            .await
            .map_err(|_| XwmsError::Timeout(budget))??;
        Ok(Answer {
            envelope: parse_envelope(status, &bytes)?,
            date,
        })
    }
}

/// One successful answer: the checked envelope, and XWMS's `Date` header if any.
struct Answer {
    envelope: Value,
    date: Option<SystemTime>,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    data: Value,
    /// Some XWMS answers put the login URL at the top level.
    #[serde(default)]
    redirect_url: Option<Value>,
}

/// Checks the HTTP status and the envelope; returns the envelope with `data` normalised.
/// Any non-2xx and any `status` other than `"success"` is a failure.
pub fn parse_envelope(status: StatusCode, body: &[u8]) -> Result<Value, XwmsError> {
    if status.is_redirection() {
        return Err(XwmsError::Redirected {
            status: status.as_u16(),
        });
    }
    if status.is_server_error() {
        return Err(XwmsError::ServerError {
            status: status.as_u16(),
        });
    }
    // Whatever the body says ("Invalid token" included): a call that XWMS refused to
    // authenticate never looked at the token.
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return Err(XwmsError::Unauthorized {
            status: status.as_u16(),
        });
    }
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(_) if !status.is_success() => {
            return Err(XwmsError::Refused {
                status: status.as_u16(),
                message: "no readable message".to_owned(),
            });
        }
        Err(err) => {
            return Err(XwmsError::InvalidResponse(format!(
                "not the JSON envelope XWMS sends ({err})"
            )));
        }
    };
    if !status.is_success() || envelope.status != "success" {
        let message = envelope
            .message
            .as_ref()
            .and_then(Value::as_str)
            .map(|text| truncate_chars(text.trim(), 200))
            .filter(|text| !text.is_empty())
            .unwrap_or_else(|| "no message".to_owned());
        return Err(XwmsError::Refused {
            status: status.as_u16(),
            message,
        });
    }
    // PHP sends an empty object as `[]`; treat it, and null, as `{}`.
    let data = match envelope.data {
        Value::Object(map) => Value::Object(map),
        _ => Value::Object(Default::default()),
    };
    let mut normalised = serde_json::Map::new();
    normalised.insert("data".to_owned(), data);
    if let Some(redirect_url) = envelope.redirect_url {
        normalised.insert("redirect_url".to_owned(), redirect_url);
    }
    Ok(Value::Object(normalised))
}

/// `data.url`, else a top-level `redirect_url`, else `data.redirect_url` (what the
/// official clients accept); it must be an absolute http(s) URL.
pub fn parse_sign_token(envelope: &Value) -> Result<SignedToken, XwmsError> {
    let data = &envelope["data"];
    let url_text = [
        &data["url"],
        &envelope["redirect_url"],
        &data["redirect_url"],
    ]
    .into_iter()
    .find_map(|candidate| candidate.as_str().filter(|text| !text.trim().is_empty()))
    .ok_or_else(|| XwmsError::InvalidResponse("no login URL in sign-token answer".into()))?;
    let login_url = absolute_http_url(url_text).ok_or_else(|| {
        XwmsError::InvalidResponse(
            "the login URL is not an absolute http(s) URL; refusing to redirect there".into(),
        )
    })?;
    let token = data["token"]
        .as_str()
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| XwmsError::InvalidResponse("no token in sign-token answer".into()))?;
    Ok(SignedToken {
        token: SecretString::from(token.to_owned()),
        login_url,
    })
}

/// The user may come flat in `data` or nested in `data.user`. A missing or unusable
/// `sub` is an error; everything else is optional and cleaned. `provider` names who
/// vouched for the person (see [`XwmsConfig::provider`]).
pub fn parse_verified_user(
    envelope: &Value,
    provider: &str,
) -> Result<VerifiedIdentity, XwmsError> {
    let data = &envelope["data"];
    let user = if data["user"].is_object() {
        &data["user"]
    } else {
        data
    };
    let sub = parse_sub(&user["sub"])?;

    let text = |key: &str| {
        user[key]
            .as_str()
            .map(|value| {
                value
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect::<String>()
            })
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let name = text("name")
        .or_else(|| {
            let joined = [text("given_name"), text("family_name")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        })
        .map(|name| truncate_chars(&name, MAX_NAME_CHARS));
    // An address that long or without an @ is not one we would ever mail; drop it.
    let email = text("email")
        .filter(|email| email.chars().count() <= MAX_EMAIL_CHARS && email.contains('@'));
    let email_verified = match &user["email_verified"] {
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_i64() == Some(1),
        Value::String(text) => matches!(text.as_str(), "1" | "true"),
        _ => false,
    } && email.is_some();
    // Kept only as an absolute http(s) URL, stored in the parser's normalised form: a
    // scheme-relative trick such as `https:./x` would otherwise render as a link to us.
    let picture = text("picture")
        .filter(|picture| picture.len() <= MAX_PICTURE_CHARS)
        .and_then(|picture| absolute_http_url(&picture))
        .map(|url| url.to_string());
    Ok(VerifiedIdentity {
        provider: provider.to_owned(),
        sub,
        name,
        email,
        email_verified,
        picture,
    })
}

/// A stored `sub` as `get/user/info` expects it: a number when it is one (`"12345"` is
/// `12345`, with no sign, no leading zero and within 64 bits), else the string.
pub fn sub_as_json(sub: &str) -> Value {
    match sub.parse::<u64>() {
        Ok(number) if number.to_string() == sub => Value::from(number),
        _ => Value::from(sub),
    }
}

/// The answer of `get/user/info` for `expected_sub`, cleaned like a login's user. The user
/// may leave `sub` out; when it names one, it must be the one asked for: another person's
/// data is never taken for this account.
pub fn parse_user_info(
    envelope: &Value,
    provider: &str,
    expected_sub: &str,
) -> Result<VerifiedIdentity, XwmsError> {
    let mut envelope = envelope.clone();
    let data = &mut envelope["data"];
    let user = if data["user"].is_object() {
        &mut data["user"]
    } else {
        data
    };
    if !user.is_object() {
        return Err(XwmsError::InvalidResponse("no user in the answer".into()));
    }
    if user["sub"].is_null() {
        user["sub"] = Value::from(expected_sub);
    }
    let identity = parse_verified_user(&envelope, provider)?;
    if identity.sub != expected_sub {
        return Err(XwmsError::InvalidResponse(
            "the answer is about another sub than the one asked for".into(),
        ));
    }
    Ok(identity)
}

/// `sub` as XWMS sends it: a string, or a JSON integer that fits in 64 bits.
///
/// Refused rather than repaired, because a repaired id could be another person's: a
/// float or an integer beyond 64 bits (JSON parsers round those, so
/// `18446744073709551617` and `18446744073709551616` would become one account), an
/// empty string, surrounding whitespace (`" 42"` is not `"42"`), control characters,
/// and anything longer than [`MAX_SUB_CHARS`].
fn parse_sub(value: &Value) -> Result<String, XwmsError> {
    let refuse = |why: &str| Err(XwmsError::InvalidResponse(format!("sub {why}")));
    let sub = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => match (number.as_u64(), number.as_i64()) {
            (Some(n), _) => n.to_string(),
            (None, Some(n)) => n.to_string(),
            (None, None) => return refuse("is a number that is not an exact 64-bit integer"),
        },
        Value::Null => return refuse("is missing from the user data"),
        _ => return refuse("is neither a string nor a number"),
    };
    if sub.is_empty() {
        return refuse("is empty");
    }
    if sub.trim() != sub {
        return refuse("has leading or trailing whitespace");
    }
    if sub.chars().count() > MAX_SUB_CHARS {
        return refuse(&format!("is longer than {MAX_SUB_CHARS} characters"));
    }
    if sub.chars().any(char::is_control) {
        return refuse("contains control characters");
    }
    Ok(sub)
}

fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl XwmsError {
    /// The HTTP status our own page answers with when this happens during a login.
    pub fn status_for_user(&self) -> StatusCode {
        match self {
            XwmsError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[actix_web::test]
    async fn debug_of_an_outbound_request_never_shows_the_client_secret() {
        let client = XwmsClient::new(
            Arc::new(XwmsConfig {
                api_url: Url::parse("https://xwms.example/api/").unwrap(),
                credentials: XwmsCredentials {
                    client_id: "id".into(),
                    client_secret: SecretString::from("the-client-secret".to_owned()),
                    client_domain: "example.com".into(),
                },
                timeout: Duration::from_secs(1),
                provider: "xwms:xwms.example".into(),
            }),
            Arc::new(Metrics::new().unwrap()),
        );

        let request = client
            .prepare(actix_web::http::Method::POST, "sign-token")
            .unwrap();

        let printed = format!("{request:?} {client:?}");
        assert!(printed.contains("x-client-id"), "{printed}");
        assert!(!printed.contains("the-client-secret"), "{printed}");
    }

    fn envelope(body: Value) -> Result<Value, XwmsError> {
        parse_envelope(StatusCode::OK, body.to_string().as_bytes())
    }

    #[test]
    fn a_success_envelope_with_php_empty_data_is_an_empty_object() {
        let parsed = envelope(json!({"status": "success", "message": "", "data": []})).unwrap();
        assert_eq!(parsed["data"], json!({}));
    }

    #[test]
    fn error_and_fatal_envelopes_are_refusals_even_with_http_200() {
        for status in ["error", "fatal"] {
            let err = envelope(json!({"status": status, "message": "Invalid token", "data": {}}))
                .unwrap_err();
            assert!(
                matches!(err, XwmsError::Refused { ref message, .. } if message == "Invalid token")
            );
        }
    }

    #[test]
    fn non_json_and_5xx_and_redirects_are_distinct_failures() {
        assert!(matches!(
            parse_envelope(StatusCode::OK, b"<html>oops</html>"),
            Err(XwmsError::InvalidResponse(_))
        ));
        assert!(matches!(
            parse_envelope(StatusCode::BAD_GATEWAY, b"{}"),
            Err(XwmsError::ServerError { status: 502 })
        ));
        assert!(matches!(
            parse_envelope(StatusCode::FOUND, b""),
            Err(XwmsError::Redirected { status: 302 })
        ));
    }

    #[test]
    fn a_401_or_403_means_our_credentials_were_refused_whatever_the_body_says() {
        let envelope = br#"{"status":"error","message":"Invalid token","data":{}}"#;
        for status in [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN] {
            for body in [b"Unauthorized".as_slice(), envelope.as_slice(), b""] {
                assert!(
                    matches!(
                        parse_envelope(status, body),
                        Err(XwmsError::Unauthorized { status: s }) if s == status.as_u16()
                    ),
                    "{status} {body:?}"
                );
            }
        }
        // Other 4xx with XWMS's envelope are XWMS saying no to the request itself.
        assert!(matches!(
            parse_envelope(StatusCode::BAD_REQUEST, envelope),
            Err(XwmsError::Refused { status: 400, .. })
        ));
    }

    #[test]
    fn a_4xx_without_json_is_a_refusal_but_a_2xx_without_json_is_a_broken_answer() {
        // A 4xx page of a proxy or framework in front of XWMS still means "no" to this
        // request; a 200 that is not the envelope means XWMS is broken.
        assert!(matches!(
            parse_envelope(StatusCode::BAD_REQUEST, b"<html>Bad Request</html>"),
            Err(XwmsError::Refused { status: 400, ref message }) if message == "no readable message"
        ));
        assert!(matches!(
            parse_envelope(StatusCode::OK, b"<html>OK</html>"),
            Err(XwmsError::InvalidResponse(_))
        ));
    }

    #[test]
    fn the_login_url_falls_back_to_redirect_url_fields() {
        let top = envelope(json!({"status":"success","redirect_url":"https://xwms.nl/login/1","data":{"token":"t"}})).unwrap();
        assert_eq!(
            parse_sign_token(&top).unwrap().login_url.as_str(),
            "https://xwms.nl/login/1"
        );
        let nested = envelope(json!({"status":"success","data":{"token":"t","redirect_url":"https://xwms.nl/login/2"}})).unwrap();
        assert_eq!(
            parse_sign_token(&nested).unwrap().login_url.as_str(),
            "https://xwms.nl/login/2"
        );
        let none = envelope(json!({"status":"success","data":{"token":"t"}})).unwrap();
        assert!(parse_sign_token(&none).is_err());
    }

    #[test]
    fn a_javascript_login_url_is_refused() {
        let evil =
            envelope(json!({"status":"success","data":{"token":"t","url":"javascript:alert(1)"}}))
                .unwrap();
        assert!(matches!(
            parse_sign_token(&evil),
            Err(XwmsError::InvalidResponse(_))
        ));
    }

    #[test]
    fn sub_may_be_a_string_or_a_number_flat_or_nested() {
        let flat = envelope(json!({"status":"success","data":{"sub":"xwms-user-1234"}})).unwrap();
        assert_eq!(
            parse_verified_user(&flat, "xwms:test").unwrap().sub,
            "xwms-user-1234"
        );
        let nested = envelope(json!({"status":"success","data":{"user":{"sub":12345}}})).unwrap();
        assert_eq!(
            parse_verified_user(&nested, "xwms:test").unwrap().sub,
            "12345"
        );
    }

    #[test]
    fn a_numeric_sub_must_be_an_exact_64_bit_integer() {
        let sub_of = |raw: &str| {
            let body = format!(r#"{{"status":"success","data":{{"sub":{raw}}}}}"#);
            let parsed = parse_envelope(StatusCode::OK, body.as_bytes()).unwrap();
            parse_verified_user(&parsed, "xwms:test").map(|user| user.sub)
        };
        assert_eq!(
            sub_of("18446744073709551615").unwrap(),
            "18446744073709551615"
        );
        assert_eq!(sub_of("-42").unwrap(), "-42");
        assert_eq!(sub_of("0").unwrap(), "0");
        // Beyond 64 bits JSON numbers become floats, and these two would be one account.
        for raw in [
            "18446744073709551616",
            "18446744073709551617",
            "12.0",
            "1e3",
            "-0.5",
        ] {
            assert!(sub_of(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn a_sub_with_surrounding_whitespace_is_refused_not_trimmed_into_another() {
        for sub in [" 42", "42 ", "\tada", "ada\n"] {
            let parsed = envelope(json!({"status":"success","data":{"sub": sub}})).unwrap();
            assert!(
                parse_verified_user(&parsed, "xwms:test").is_err(),
                "{sub:?}"
            );
        }
    }

    #[test]
    fn the_identity_names_its_provider() {
        let parsed = envelope(json!({"status":"success","data":{"sub":"42"}})).unwrap();
        assert_eq!(
            parse_verified_user(&parsed, "sandbox").unwrap().provider,
            "sandbox"
        );
        assert_eq!(
            XwmsConfig::provider_for(&Url::parse("https://xwms.nl/api/").unwrap()),
            "xwms:xwms.nl"
        );
        assert_eq!(
            XwmsConfig::provider_for(&Url::parse("http://127.0.0.1:8081/api/").unwrap()),
            "xwms:127.0.0.1:8081"
        );
    }

    #[test]
    fn a_missing_empty_or_huge_sub_is_refused() {
        for data in [
            json!({}),
            json!({"sub": ""}),
            json!({"sub": "  "}),
            json!({"sub": "x".repeat(10_000)}),
            json!({"sub": true}),
        ] {
            let parsed = envelope(json!({"status":"success","data":data})).unwrap();
            assert!(parse_verified_user(&parsed, "xwms:test").is_err(), "{data}");
        }
    }

    #[test]
    fn a_sub_may_be_255_characters_long_and_no_longer() {
        let sub_of_length = |n: usize| {
            let parsed =
                envelope(json!({"status":"success","data":{"sub": "s".repeat(n)}})).unwrap();
            parse_verified_user(&parsed, "xwms:test").map(|user| user.sub.len())
        };
        assert_eq!(sub_of_length(MAX_SUB_CHARS).ok(), Some(MAX_SUB_CHARS));
        assert!(sub_of_length(MAX_SUB_CHARS + 1).is_err());
    }

    #[test]
    fn get_user_info_gets_the_sub_as_a_number_only_when_it_is_one_exactly() {
        assert_eq!(sub_as_json("12345"), json!(12345));
        assert_eq!(
            sub_as_json("18446744073709551615"),
            json!(18_446_744_073_709_551_615_u64)
        );
        // Not numbers as they are written: a number would be another sub.
        for text in [
            "00123",
            "+5",
            "-5",
            "1.0",
            "18446744073709551616",
            "sub-1",
            "",
        ] {
            assert_eq!(sub_as_json(text), json!(text), "{text}");
        }
    }

    #[test]
    fn a_user_info_answer_is_for_the_sub_asked_for_or_none() {
        let answer = |user: Value| json!({"status": "success", "data": {"user": user}});
        let without_sub = parse_user_info(&answer(json!({"name": "Ada"})), "xwms:x", "7").unwrap();
        assert_eq!(
            (without_sub.sub.as_str(), without_sub.name.as_deref()),
            ("7", Some("Ada"))
        );
        let flat = json!({"status": "success", "data": {"sub": 7, "email": "a@example.com"}});
        assert_eq!(
            parse_user_info(&flat, "xwms:x", "7")
                .unwrap()
                .email
                .as_deref(),
            Some("a@example.com")
        );
        assert!(matches!(
            parse_user_info(&answer(json!({"sub": "8"})), "xwms:x", "7"),
            Err(XwmsError::InvalidResponse(_))
        ));
        assert!(parse_user_info(&json!({"status": "success", "data": []}), "xwms:x", "7").is_err());
    }

    #[test]
    fn a_missing_sub_says_so() {
        // The operator reads this in the log: "missing" points at the provider's data.
        let parsed = envelope(json!({"status":"success","data":{"sub": null}})).unwrap();
        assert!(matches!(
            parse_verified_user(&parsed, "xwms:test"),
            Err(XwmsError::InvalidResponse(ref why)) if why == "sub is missing from the user data"
        ));
    }

    #[test]
    fn email_verified_is_read_in_every_shape_xwms_sends_it() {
        let verified = |flag: Value| {
            let parsed = envelope(json!({"status":"success","data":{
                "sub": "1", "email": "ada@example.com", "email_verified": flag
            }}))
            .unwrap();
            parse_verified_user(&parsed, "xwms:test")
                .unwrap()
                .email_verified
        };
        for yes in [json!(true), json!(1), json!("1"), json!("true")] {
            assert!(verified(yes.clone()), "{yes}");
        }
        for no in [
            json!(false),
            json!(0),
            json!(2),
            json!("0"),
            json!("false"),
            json!("yes"),
            json!(null),
        ] {
            assert!(!verified(no.clone()), "{no}");
        }
    }

    #[test]
    fn untrusted_fields_are_cleaned() {
        let parsed = envelope(json!({"status":"success","data":{
            "sub": "1",
            "name": "x".repeat(5000),
            "email": "not-an-email",
            "email_verified": true,
            "picture": "javascript:alert(1)"
        }}))
        .unwrap();
        let user = parse_verified_user(&parsed, "xwms:test").unwrap();
        assert_eq!(user.name.unwrap().chars().count(), MAX_NAME_CHARS);
        assert_eq!(user.email, None);
        assert!(!user.email_verified, "no email, so nothing is verified");
        assert_eq!(user.picture, None);
    }

    #[test]
    fn a_picture_must_be_an_absolute_http_url_and_is_stored_normalised() {
        for (picture, kept) in [
            (
                "https://cdn.xwms.nl/a.png",
                Some("https://cdn.xwms.nl/a.png"),
            ),
            (
                "HTTPS://CDN.xwms.nl/a.png",
                Some("https://cdn.xwms.nl/a.png"),
            ),
            ("https:./cdn.xwms.nl/a.png", None),
            ("http:evil.example/x.png", None),
            ("//evil.example/x.png", None),
            ("data:image/png;base64,AAAA", None),
        ] {
            let parsed =
                envelope(json!({"status":"success","data":{"sub":"1","picture":picture}})).unwrap();
            assert_eq!(
                parse_verified_user(&parsed, "xwms:test")
                    .unwrap()
                    .picture
                    .as_deref(),
                kept,
                "{picture}"
            );
        }
    }

    #[test]
    fn a_missing_name_is_built_from_given_and_family_name() {
        let parsed = envelope(
            json!({"status":"success","data":{"sub":"1","given_name":"Ada","family_name":null}}),
        )
        .unwrap();
        assert_eq!(
            parse_verified_user(&parsed, "xwms:test")
                .unwrap()
                .name
                .as_deref(),
            Some("Ada")
        );
    }
}
