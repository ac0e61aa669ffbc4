//! Several replicas behind a load balancer: three app processes' worth of servers on one
//! database and one `SESSION_KEY`, every request of a login sent to another replica.
//! Nothing a replica needs may live in one replica's memory.

use futures::future::join_all;
use xwms_starter::app::startup::Application;

use crate::helpers::{
    Provider, TEST_SESSION_KEY, bare_client, browser, drop_database, location, new_test_database,
    session_cookie, test_settings,
};

/// The public address all replicas answer for (what the load balancer would serve).
const PUBLIC: &str = "http://localhost:1";

struct Replicas {
    ports: Vec<u16>,
    handles: Vec<actix_web::dev::ServerHandle>,
    database_url: String,
}

impl Replicas {
    /// `n` replicas started at the same moment on one fresh database.
    async fn start(n: usize) -> Replicas {
        Self::start_with(n, &[]).await
    }

    async fn start_with(n: usize, extra: &[(&str, &str)]) -> Replicas {
        let database_url = new_test_database().await;
        let apps = join_all(
            (0..n).map(|_| Application::build(replica_settings_with(&database_url, extra))),
        )
        .await
        .into_iter()
        .map(|app| app.expect("every replica starts: no migration race"))
        .collect::<Vec<_>>();
        let ports = apps.iter().map(Application::port).collect();
        let handles = apps.iter().map(Application::handle).collect();
        for app in apps {
            actix_web::rt::spawn(app.run_until_stopped());
        }
        Replicas {
            ports,
            handles,
            database_url,
        }
    }

    /// `url` (or a path) as served by replica `i` (what the load balancer decides).
    fn at(&self, i: usize, url: &str) -> String {
        let path = url.strip_prefix(PUBLIC).unwrap_or(url);
        format!(
            "http://localhost:{}{path}",
            self.ports[i % self.ports.len()]
        )
    }

    /// Stops replica `i` and starts a new process in its place.
    async fn restart(&mut self, i: usize) {
        self.handles[i].stop(true).await;
        let app = Application::build(replica_settings(&self.database_url))
            .await
            .expect("the replica starts again");
        self.ports[i] = app.port();
        self.handles[i] = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        let url = self.database_url.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let _ = runtime.block_on(drop_database(&url, None));
        })
        .join();
    }
}

fn replica_settings(database_url: &str) -> xwms_starter::support::config::Settings {
    replica_settings_with(database_url, &[])
}

fn replica_settings_with(
    database_url: &str,
    extra: &[(&str, &str)],
) -> xwms_starter::support::config::Settings {
    let mut env = vec![
        ("SESSION_KEY", TEST_SESSION_KEY),
        ("XWMS_REDIRECT_URI", "http://localhost:1/xwms/validateToken"),
        // Each replica is reached on its own port, as behind a load balancer that does
        // not pass the browser's Host through: no redirect to the public origin then.
        ("REDIRECT_TO_PUBLIC_ORIGIN", "false"),
    ];
    env.extend_from_slice(extra);
    test_settings(database_url, &Provider::Sandbox, &env)
}

/// A sandbox login as `persona`, each request to the next replica from `first`;
/// returns the callback's response.
async fn log_in_across(
    replicas: &Replicas,
    browser: &reqwest::Client,
    persona: &str,
    first: usize,
) -> reqwest::Response {
    let start = browser
        .get(replicas.at(first, "/xwms/auth"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let login_page = location(start.headers());
    assert!(login_page.starts_with(PUBLIC), "{login_page}");
    let page = browser
        .get(replicas.at(first + 1, &login_page))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "another replica shows the sandbox's page"
    );
    let back = browser
        .post(replicas.at(first + 2, &login_page))
        .form(&[("persona", persona), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    browser
        .get(replicas.at(first + 3, &location(back.headers())))
        .send()
        .await
        .unwrap()
}

async fn profile_status(replicas: &Replicas, i: usize, cookie: &str) -> u16 {
    bare_client()
        .get(replicas.at(i, "/profile"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn three_replicas_serve_one_login_whichever_replica_gets_each_request() {
    let mut replicas = Replicas::start(3).await;
    let laptop = browser();

    let callback = log_in_across(&replicas, &laptop, "ada", 0).await;

    assert_eq!(callback.status(), 303);
    assert_eq!(location(callback.headers()), "/profile");
    let cookie = session_cookie(callback.headers()).unwrap();
    for i in 0..3 {
        assert_eq!(
            profile_status(&replicas, i, &cookie).await,
            200,
            "replica {i}"
        );
    }

    // Restarting a replica signs nobody out.
    replicas.restart(0).await;
    assert_eq!(profile_status(&replicas, 0, &cookie).await, 200);

    // Logging out on one replica ends the session on every replica.
    let home = laptop.get(replicas.at(1, "/")).send().await.unwrap();
    let token = crate::helpers::TestApp::form_csrf_token(&home.text().await.unwrap());
    let logout = laptop
        .post(replicas.at(2, "/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    for i in 0..3 {
        assert_eq!(
            profile_status(&replicas, i, &cookie).await,
            303,
            "replica {i}"
        );
    }
}

#[actix_web::test]
async fn log_out_on_all_devices_on_one_replica_ends_every_session_on_every_replica() {
    let replicas = Replicas::start(3).await;
    let (laptop, phone) = (browser(), browser());
    let laptop_cookie =
        session_cookie(log_in_across(&replicas, &laptop, "ada", 0).await.headers()).unwrap();
    let phone_cookie =
        session_cookie(log_in_across(&replicas, &phone, "ada", 1).await.headers()).unwrap();

    let home = phone.get(replicas.at(2, "/")).send().await.unwrap();
    let token = crate::helpers::TestApp::form_csrf_token(&home.text().await.unwrap());
    let everywhere = phone
        .post(replicas.at(0, "/logout/everywhere"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(everywhere.status(), 303);
    for i in 0..3 {
        assert_eq!(profile_status(&replicas, i, &laptop_cookie).await, 303);
        assert_eq!(profile_status(&replicas, i, &phone_cookie).await, 303);
    }
}

#[actix_web::test]
async fn a_session_ended_from_your_devices_on_one_replica_is_refused_by_every_replica() {
    let replicas = Replicas::start(3).await;
    let (laptop, phone) = (browser(), browser());
    log_in_across(&replicas, &laptop, "ada", 0).await;
    let phone_cookie =
        session_cookie(log_in_across(&replicas, &phone, "ada", 1).await.headers()).unwrap();
    let devices = laptop
        .get(replicas.at(2, "/profile/sessions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::helpers::TestApp::form_csrf_token(&devices);
    let phone_session = devices
        .split(r#"name="session" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();

    let ended = laptop
        .post(replicas.at(0, "/profile/sessions/end"))
        .form(&[("csrf_token", token), ("session", phone_session)])
        .send()
        .await
        .unwrap();

    assert_eq!(location(ended.headers()), "/profile/sessions?ended=1");
    for i in 0..3 {
        assert_eq!(profile_status(&replicas, i, &phone_cookie).await, 303);
    }
}

#[actix_web::test]
async fn threat_brute_force_the_rate_limit_holds_for_the_whole_deployment_not_per_replica() {
    let replicas = Replicas::start_with(
        3,
        &[("RATE_LIMIT_PER_MINUTE", "1"), ("RATE_LIMIT_BURST", "3")],
    )
    .await;
    let attacker = bare_client();
    // One request to each replica: the burst of 3 is spent across the deployment.
    for i in 0..3 {
        let start = attacker
            .get(replicas.at(i, "/xwms/auth"))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 303, "replica {i}");
    }

    for i in 0..3 {
        let limited = attacker
            .get(replicas.at(i, "/xwms/auth"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            limited.status(),
            429,
            "replica {i} knows what the others allowed"
        );
        assert!(limited.headers().contains_key("retry-after"));
    }
}
