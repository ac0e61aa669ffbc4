//! PostgreSQL over TLS, as managed services demand: a private PostgreSQL started here with
//! `ssl=on`, a server certificate from a CA generated here, and only `hostssl` lines in its
//! pg_hba.conf (so a plain connection is refused); the app is started against it with each
//! `sslmode`. A second private server without TLS shows what `prefer` and `require` do
//! there. Plain URLs against the usual server are the rest of the suite (and the last test
//! here, with `sslmode=disable`).
//!
//! The servers are shared by the tests running at the same time and stopped (and their
//! directory removed) when the last test using one ends, whether it passed or panicked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};

use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use xwms_starter::app::startup::Application;
use xwms_starter::support::config::Settings;

use crate::helpers::{Provider, TestApp, browser, captured_logs, spawn_app_on};

// ---------------------------------------------------------------------------------
// The tests.

#[actix_web::test]
async fn tls_verify_full_with_sslrootcert_in_the_url_serves_a_sandbox_login() {
    let server = tls_server();
    let url = server.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", server.ca.display()),
    );

    let app = spawn_app_on(&url, Provider::Sandbox, &[]).await;
    app.log_in_ending_on_the_profile(&browser()).await;

    assert_eq!(
        app.count("users").await,
        1,
        "the account is on the TLS server"
    );
    assert_all_connections_encrypted(&app).await;
    assert!(
        app.logs().iter().any(|line| line.contains(
            "PostgreSQL connections: sslmode=verify-full, certificate and host name checked against sslrootcert"
        )),
        "the start logs the TLS policy"
    );
    assert!(
        !captured_logs()
            .iter()
            .any(|line| line.contains(&server.password)),
        "the database password is never logged"
    );
}

#[actix_web::test]
async fn tls_verify_full_with_database_ca_file_serves_a_sandbox_login() {
    let server = tls_server();
    // An IP address this time: the certificate names 127.0.0.1 too.
    let url = server.url("127.0.0.1", "sslmode=verify-full");
    let ca = server.ca.to_str().unwrap();

    let app = spawn_app_on(&url, Provider::Sandbox, &[("DATABASE_CA_FILE", ca)]).await;
    app.log_in_ending_on_the_profile(&browser()).await;

    assert_eq!(app.count("users").await, 1);
    assert_all_connections_encrypted(&app).await;
}

#[actix_web::test]
async fn tls_require_encrypts_without_the_ca() {
    let server = tls_server();
    let url = server.url("127.0.0.1", "sslmode=require");

    let app = spawn_app_on(&url, Provider::Sandbox, &[]).await;
    app.log_in_ending_on_the_profile(&browser()).await;

    assert_eq!(app.count("users").await, 1);
    assert_all_connections_encrypted(&app).await;
}

#[actix_web::test]
async fn tls_prefer_the_default_uses_tls_when_the_server_offers_it() {
    let server = tls_server();
    // No sslmode: prefer. The server refuses plain connections, so this works only if
    // prefer really encrypts.
    let url = server.url("127.0.0.1", "");

    let app = spawn_app_on(&url, Provider::Sandbox, &[]).await;
    app.log_in_ending_on_the_profile(&browser()).await;

    assert_all_connections_encrypted(&app).await;
}

#[actix_web::test]
async fn tls_verify_full_with_the_wrong_ca_is_refused_at_start_naming_the_certificate() {
    let server = tls_server();
    let other_ca = server.other_ca.display().to_string();

    let in_url = start_error(
        &server.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={other_ca}"),
        ),
        &[],
    )
    .await;
    let in_setting = start_error(
        &server.url("localhost", "sslmode=verify-full"),
        &[("DATABASE_CA_FILE", &other_ca)],
    )
    .await;

    for (message, source) in [(&in_url, "sslrootcert"), (&in_setting, "DATABASE_CA_FILE")] {
        assert!(message.contains("invalid peer certificate"), "{message}");
        assert!(message.contains("UnknownIssuer"), "{message}");
        assert!(
            message.contains(&format!(
                "sslmode=verify-full, certificate and host name checked against {source} {other_ca}"
            )),
            "{message}"
        );
        assert!(!message.contains(&server.password), "{message}");
    }
}

#[actix_web::test]
async fn tls_verify_ca_accepts_another_host_name_that_verify_full_refuses() {
    let server = tls_server();
    // The certificate names localhost and 127.0.0.1; reach the same server under another
    // name (hostaddr: where to connect; host: the name the certificate must carry).
    let params = |mode: &str| {
        format!(
            "sslmode={mode}&sslrootcert={}&hostaddr=127.0.0.1",
            server.ca.display()
        )
    };
    let other_name = |mode: &str| server.url("db.example.test", &params(mode));

    let refused = start_error(&other_name("verify-full"), &[]).await;
    assert!(refused.contains("invalid peer certificate"), "{refused}");
    assert!(
        refused.contains("certificate not valid for name \"db.example.test\""),
        "{refused}"
    );

    // verify-ca still checks the chain.
    let wrong_ca = server.url(
        "db.example.test",
        &format!(
            "sslmode=verify-ca&sslrootcert={}&hostaddr=127.0.0.1",
            server.other_ca.display()
        ),
    );
    let refused = start_error(&wrong_ca, &[]).await;
    assert!(refused.contains("UnknownIssuer"), "{refused}");

    let app = spawn_app_on(&other_name("verify-ca"), Provider::Sandbox, &[]).await;
    assert_eq!(app.get("/health").await.status(), 200);
    assert_all_connections_encrypted(&app).await;
}

#[actix_web::test]
async fn tls_disable_is_refused_by_a_hostssl_only_server() {
    let server = tls_server();

    let message = start_error(&server.url("127.0.0.1", "sslmode=disable"), &[]).await;

    assert!(message.contains("no pg_hba.conf entry"), "{message}");
    assert!(message.contains("no encryption"), "{message}");
    assert!(message.contains("sslmode=disable, no TLS"), "{message}");
}

#[actix_web::test]
async fn tls_prefer_falls_back_to_plain_on_a_server_without_tls_and_require_refuses_it() {
    let server = plain_server();

    let app = spawn_app_on(&server.url("127.0.0.1", ""), Provider::Sandbox, &[]).await;
    app.log_in_ending_on_the_profile(&browser()).await;
    assert_eq!(connection_encryption(&app).await.encrypted, 0);

    let message = start_error(&server.url("127.0.0.1", "sslmode=require"), &[]).await;
    assert!(message.contains("server does not support TLS"), "{message}");
}

#[actix_web::test]
async fn tls_disable_still_connects_in_plain_to_the_local_server() {
    // The tests' own server: TEST_DATABASE_URL, 127.0.0.1:5432, or the private one.
    let local = crate::helpers::server_url().await;
    let mut url = url::Url::parse(&local).unwrap();
    url.query_pairs_mut().append_pair("sslmode", "disable");

    let app = spawn_app_on(url.as_str(), Provider::Sandbox, &[]).await;
    app.log_in_ending_on_the_profile(&browser()).await;

    let connections = connection_encryption(&app).await;
    assert!(connections.total > 0);
    assert_eq!(connections.encrypted, 0);
}

#[actix_web::test]
async fn url_parameters_with_spaces_reach_postgresql_as_written() {
    // libpq's spelling: %20 is a space. A form-encoded `+` would make the server refuse
    // the options (`-c+search_path=...`) and show the name as `My+App`.
    let local = crate::helpers::server_url().await;
    let separator = if local.contains('?') { '&' } else { '?' };
    let url = format!(
        "{local}{separator}application_name=My%20App&options=-c%20search_path%3Dapp,public"
    );

    let app = spawn_app_on(&url, Provider::Sandbox, &[]).await;
    app.log_in_ending_on_the_profile(&browser()).await;

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Seen {
        #[diesel(sql_type = diesel::sql_types::Text)]
        application_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        search_path: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        app_connections: i64,
    }
    let mut conn = app.db().await;
    let seen: Seen = diesel::sql_query(
        "SELECT current_setting('application_name') AS application_name, \
         current_setting('search_path') AS search_path, \
         (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
          AND pid <> pg_backend_pid() AND application_name = 'My App') AS app_connections",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(seen.application_name, "My App");
    assert_eq!(seen.search_path, "app,public");
    assert!(
        seen.app_connections > 0,
        "the app's own connections: {seen:?}"
    );
}

// ---------------------------------------------------------------------------------
// Checks.

#[derive(QueryableByName, Debug)]
struct Encryption {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    total: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    encrypted: i64,
}

/// The app's connections to its database (all but the one asking), and how many use TLS.
async fn connection_encryption(app: &TestApp) -> Encryption {
    let mut conn = app.db().await;
    diesel::sql_query(
        "SELECT count(*) AS total, count(*) FILTER (WHERE s.ssl) AS encrypted \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()",
    )
    .get_result(&mut conn)
    .await
    .unwrap()
}

async fn assert_all_connections_encrypted(app: &TestApp) {
    let connections = connection_encryption(app).await;
    assert!(connections.total > 0, "{connections:?}");
    assert_eq!(connections.encrypted, connections.total, "{connections:?}");
}

/// Starts the app against `database_url` and returns why it refused to start.
async fn start_error(database_url: &str, extra_env: &[(&str, &str)]) -> String {
    let mut env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.to_owned()),
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
        ("WORKERS".into(), "1".into()),
    ]);
    for (key, value) in extra_env {
        env.insert((*key).to_owned(), (*value).to_owned());
    }
    let settings = Settings::from_lookup(|name| env.get(name).cloned()).expect("settings");
    match Application::build(settings).await {
        Ok(_) => panic!("the app started against {database_url}"),
        Err(err) => err.to_string(),
    }
}

// ---------------------------------------------------------------------------------
// The private PostgreSQL servers.

static TLS_SERVER: Mutex<Weak<PrivatePostgres>> = Mutex::new(Weak::new());
static PLAIN_SERVER: Mutex<Weak<PrivatePostgres>> = Mutex::new(Weak::new());

/// The private server with TLS only (started if no running test holds it).
fn tls_server() -> Arc<PrivatePostgres> {
    shared(&TLS_SERVER, true)
}

/// The private server without TLS.
fn plain_server() -> Arc<PrivatePostgres> {
    shared(&PLAIN_SERVER, false)
}

fn shared(slot: &Mutex<Weak<PrivatePostgres>>, tls: bool) -> Arc<PrivatePostgres> {
    let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(server) = slot.upgrade() {
        return server;
    }
    let server = Arc::new(PrivatePostgres::start(tls));
    *slot = Arc::downgrade(&server);
    server
}

/// A PostgreSQL server of our own in a temporary directory, run as the `postgres` user
/// when the tests run as root (PostgreSQL refuses root), else as the current user.
/// Dropping it stops the server and removes the directory.
struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `Some(uid, gid)` of the `postgres` user when we are root.
    owner: Option<(u32, u32)>,
    /// The password of the `postgres` role (SCRAM over TCP).
    password: String,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
    /// A CA that did not.
    other_ca: PathBuf,
}

impl PrivatePostgres {
    fn start(tls: bool) -> PrivatePostgres {
        let bin = postgres_bin_dir();
        let owner = if current_uid() == 0 {
            Some(postgres_user())
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!("xwms-test-pg-{}", random_hex()));
        std::fs::create_dir(&dir).expect("temporary directory");
        let port = free_port();
        let ca = new_ca("xwms-starter test CA");
        let other = new_ca("another CA");
        let server = PrivatePostgres {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            password: random_hex(),
            dir,
            bin,
            port,
            owner,
        };
        // From here on, a panic drops `server`, which cleans up.
        let (certificate, key) = server_certificate(&ca);
        server.write("ca.pem", &ca.pem, 0o644);
        server.write("other-ca.pem", &other.pem, 0o644);
        server.write("server.crt", &certificate, 0o644);
        server.write("server.key", &key, 0o600);
        server.write("password", &server.password, 0o600);
        server.give_to_owner(&server.dir);
        set_mode(&server.dir, 0o700);

        let data = server.data_dir();
        server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--pwfile",
                server.dir.join("password").to_str().unwrap(),
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        let dir = server.dir.display();
        let mut conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{dir}'\n\
             fsync = off\nmax_connections = 40\npassword_encryption = 'scram-sha-256'\n"
        );
        let hba = if tls {
            conf.push_str(&format!(
                "ssl = on\nssl_cert_file = '{dir}/server.crt'\nssl_key_file = '{dir}/server.key'\n"
            ));
            // TLS only: no `host` line, so a plain TCP connection finds no entry.
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        } else {
            conf.push_str("ssl = off\n");
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        };
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf");
        let log = server.dir.join("server.log");
        let started = server.try_run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        if let Err(err) = started {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("the private PostgreSQL did not start: {err}\n{log}");
        }
        eprintln!(
            "private PostgreSQL ({}) on 127.0.0.1:{port} in {}",
            if tls { "TLS only" } else { "no TLS" },
            server.dir.display()
        );
        server
    }

    /// `postgres://postgres:<password>@{host}:{port}/postgres?{params}`.
    fn url(&self, host: &str, params: &str) -> String {
        let mut url = format!(
            "postgres://postgres:{}@{host}:{}/postgres",
            self.password, self.port
        );
        if !params.is_empty() {
            url.push('?');
            url.push_str(params);
        }
        url
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn write(&self, name: &str, contents: &str, mode: u32) {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).expect("write a server file");
        set_mode(&path, mode);
        self.give_to_owner(&path);
    }

    fn give_to_owner(&self, path: &Path) {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
        }
    }

    /// Runs a PostgreSQL program as the server's user; panics with its output on failure.
    fn run(&self, program: &str, args: &[&str]) {
        if let Err(err) = self.try_run(program, args) {
            panic!("{err}");
        }
    }

    fn try_run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = match self.owner {
            Some(_) => {
                let mut command = Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        // Out of the server's way: the test harness's own PG* variables.
        for name in [
            "PGHOST",
            "PGPORT",
            "PGDATA",
            "PGUSER",
            "PGPASSWORD",
            "PGSSLMODE",
        ] {
            command.env_remove(name);
        }
        let output = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|err| format!("could not run {}: {err}", path.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {args:?} failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        if data.join("postmaster.pid").exists() {
            let data = data.to_str().unwrap_or_default();
            let stop = |mode| {
                self.try_run(
                    "pg_ctl",
                    &["-D", data, "-m", mode, "-w", "-t", "20", "stop"],
                )
            };
            if let Err(err) = stop("fast").or_else(|_| stop("immediate")) {
                eprintln!("could not stop the private PostgreSQL: {err}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// initdb, pg_ctl and postgres: /usr/lib/postgresql/<newest>/bin, `pg_config --bindir`,
/// or PATH. Fails (never skips) when they are missing.
fn postgres_bin_dir() -> PathBuf {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|name| dir.join(name).is_file())
    };
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let from_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    versions
        .into_iter()
        .rev()
        .map(|(_, bin)| bin)
        .chain(from_pg_config)
        .chain(from_path)
        .find(|dir| complete(dir))
        .unwrap_or_else(|| {
            panic!(
                "the TLS tests start a PostgreSQL server of their own, but initdb, pg_ctl and \
                 postgres were found neither in /usr/lib/postgresql/*/bin, nor in \
                 `pg_config --bindir`, nor on PATH: install the PostgreSQL server \
                 (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)"
            )
        })
}

fn current_uid() -> u32 {
    let output = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("a numeric uid")
}

/// The uid and gid of the `postgres` system user.
fn postgres_user() -> (u32, u32) {
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, "postgres"])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "the tests run as root and PostgreSQL refuses to, but there is no `postgres` \
                     user to run it as (installing the server package creates it: apt-get \
                     install postgresql)"
                )
            })
    };
    (id("-u"), id("-g"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .expect("append to postgresql.conf");
}

fn random_hex() -> String {
    use rand::Rng;
    hex::encode(rand::rng().random::<[u8; 12]>())
}

// ---------------------------------------------------------------------------------
// Certificates.

struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(name: &str) -> TestCa {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    TestCa {
        pem,
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `localhost` and 127.0.0.1 signed by `ca`, and its key (PEM).
fn server_certificate(ca: &TestCa) -> (String, String) {
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, &ca.issuer).unwrap();
    (certificate.pem(), key.serialize_pem())
}
