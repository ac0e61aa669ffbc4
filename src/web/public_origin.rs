//! One public origin: the callback URL's (`XWMS_REDIRECT_URI`).
//!
//! The session cookie belongs to one host, and the same-site checks (`csrf`) compare with
//! the callback's origin, so a browser on `http://127.0.0.1:3000` while the callback is
//! `http://localhost:3000` could never finish a login. With `REDIRECT_TO_PUBLIC_ORIGIN`
//! (on in development) a request for another host is sent to the same path and query on
//! the public origin: GET and HEAD with a 307, any other method gets a page naming the
//! right address (421), as re-sending a form elsewhere would lose its cookie anyway.
//!
//! Left alone: `/health` and `/metrics` (probes and scrapers address the container, not
//! the site), and the sandbox's API, which the app's own XWMS client calls over loopback
//! (`startup::sandbox_api_url`).
//!
//! Only the `Host` header is compared (host and port), never the scheme: behind a proxy
//! that ends TLS the app cannot tell, and comparing it would loop. `X-Forwarded-Host` is
//! not read: anyone can send it.
//!
//! The callback's query holds the login token. It is kept in the redirect: it is the
//! browser's own, goes only to our own site, and is not logged (`startup::request_logger`
//! logs paths only); a redirect does not change the `Referer` the next request carries.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use url::Url;

use crate::web::error::AppError;

/// Paths served on any host: exactly these, or below them.
const ANY_HOST: &[&str] = &["/health", "/metrics"];

/// Where the site is: built once from the callback URL.
#[derive(Debug, Clone)]
pub struct PublicOrigin {
    /// `http://localhost:3000`: what a redirect's `Location` starts with.
    origin: String,
    /// The `Host` headers that name it: `localhost:3000` (and `host:443` for `https://host`).
    hosts: Vec<String>,
    /// The sandbox's API, when the sandbox runs in this app.
    sandbox_api: Option<&'static str>,
}

impl PublicOrigin {
    /// `None` when the URL has no host (never the case for a checked callback URL).
    pub fn new(callback: &Url, sandbox_api: Option<&'static str>) -> Option<PublicOrigin> {
        let host = callback.host_str()?.to_ascii_lowercase();
        let origin = callback.origin().ascii_serialization();
        let mut hosts = vec![match callback.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        }];
        if callback.port().is_none()
            && let Some(port) = callback.port_or_known_default()
        {
            hosts.push(format!("{host}:{port}"));
        }
        Some(PublicOrigin {
            origin,
            hosts,
            sandbox_api,
        })
    }

    /// The public origin, as the start log and the wrong-host page show it.
    pub fn as_str(&self) -> &str {
        &self.origin
    }

    /// Whether a request with this `Host` header is on the public origin.
    fn is_ours(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    /// Whether `path` is served on any host.
    fn serves_any_host(&self, path: &str) -> bool {
        let below = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        ANY_HOST.iter().any(|prefix| below(prefix))
            || self
                .sandbox_api
                .is_some_and(|api| path.starts_with(api.trim_end_matches('/')))
    }

    /// Where a request for `path_and_query` on another host belongs.
    fn location(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin)
    }
}

/// Middleware: requests for another host go to the public origin (see the module docs).
/// Registered only when `REDIRECT_TO_PUBLIC_ORIGIN` is on.
pub async fn redirect_to_public_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(public) = req.app_data::<web::Data<PublicOrigin>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    // HTTP/1.1 names the host in `Host`, HTTP/2 in the request's authority; a request
    // naming none (HTTP/1.0) cannot be told apart and is served.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|authority| authority.to_string()));
    let elsewhere = host.is_some_and(|host| !public.is_ours(&host));
    if !elsewhere || public.serves_any_host(req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let target = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
        let response = HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, public.location(&target)))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
        return Ok(req.into_response(response).map_into_right_body());
    }
    let error = AppError::WrongHost {
        public_origin: public.as_str().to_owned(),
    };
    Ok(req.error_response(error).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(callback: &str) -> PublicOrigin {
        PublicOrigin::new(&Url::parse(callback).unwrap(), Some("/sandbox/xwms/api/")).unwrap()
    }

    #[test]
    fn the_callbacks_host_and_port_are_ours_in_any_case() {
        let public = origin("http://localhost:3000/xwms/validateToken");
        assert!(public.is_ours("localhost:3000"));
        assert!(public.is_ours("LocalHost:3000"));
        assert!(!public.is_ours("127.0.0.1:3000"));
        assert!(!public.is_ours("localhost:3001"));
        assert!(!public.is_ours("localhost"));
        assert_eq!(public.as_str(), "http://localhost:3000");
    }

    #[test]
    fn a_default_port_may_be_named_or_left_out() {
        let public = origin("https://app.example.com/xwms/validateToken");
        assert!(public.is_ours("app.example.com"));
        assert!(public.is_ours("app.example.com:443"));
        assert!(!public.is_ours("app.example.com:80"));
        assert!(!public.is_ours("evil.example"));
    }

    #[test]
    fn an_ipv6_callback_is_named_in_brackets() {
        let public = origin("http://[::1]:3000/xwms/validateToken");
        assert!(public.is_ours("[::1]:3000"));
        assert!(!public.is_ours("127.0.0.1:3000"));
    }

    #[test]
    fn probes_scrapers_and_the_sandbox_api_are_served_on_any_host() {
        let public = origin("http://localhost:3000/xwms/validateToken");
        for path in [
            "/health",
            "/health/ready",
            "/metrics",
            "/sandbox/xwms/api/sign-token",
        ] {
            assert!(public.serves_any_host(path), "{path}");
        }
        for path in ["/", "/healthy", "/xwms/auth", "/sandbox/xwms/login/1"] {
            assert!(!public.serves_any_host(path), "{path}");
        }
    }

    #[test]
    fn the_location_keeps_path_and_query_on_the_public_origin() {
        let public = origin("http://localhost:3000/xwms/validateToken");
        assert_eq!(
            public.location("/xwms/validateToken?token=abc"),
            "http://localhost:3000/xwms/validateToken?token=abc"
        );
        // A path that looks like a network path stays on our origin.
        assert_eq!(
            public.location("//evil.example/"),
            "http://localhost:3000//evil.example/"
        );
    }
}
