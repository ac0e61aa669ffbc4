//! A private PostgreSQL for development and tests, so `cargo run` and `cargo test` work
//! on a machine where no database is set up.
//!
//! When `DATABASE_URL` is not set (development only) or `TEST_DATABASE_URL` is not set
//! (tests), and the default server at 127.0.0.1:5432 does not let us in, the app starts
//! a server of its own from the machine's PostgreSQL binaries:
//!
//! - binaries: `PG_BINDIR`, Debian/Ubuntu's `/usr/lib/postgresql/<newest>/bin`,
//!   Homebrew's `postgresql@<newest>`, `pg_config --bindir`, then `PATH`;
//! - data: one directory, kept between runs (see [`default_dir`]); created by `initdb`
//!   the first time;
//! - network: none. It listens only on a Unix socket inside that directory, which only
//!   its owner can enter, with `trust` authentication;
//! - as root (PostgreSQL refuses to run as root) it runs as the `postgres` system user,
//!   or `nobody` where there is none;
//! - lifetime: every process that uses it registers its pid in `clients/`; a small
//!   watchdog stops the server once no registered process has been alive for a few
//!   seconds. So it stops when the app stops, and the test binaries of one `cargo test`
//!   share one server, started by the first and stopped after the last.
//!
//! Production never gets here: `startup` calls this only in development.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection};

/// The default server we try before starting one of our own.
pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long the watchdog waits, once no client is alive, before it stops the server.
const IDLE_SECS_BEFORE_STOP: u32 = 3;

/// How long starting the server may take.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why no private server could be had.
#[derive(Debug, thiserror::Error)]
pub enum DevDatabaseError {
    #[error(
        "no PostgreSQL binaries found to start a private server (looked in PG_BINDIR, /usr/lib/postgresql/*/bin, Homebrew, pg_config, PATH). Install PostgreSQL (Debian/Ubuntu: apt install postgresql; macOS: brew install postgresql@16), or set DATABASE_URL to a server you have, or run the demo with `docker compose up --build`"
    )]
    NoBinaries,
    #[error("private PostgreSQL in {dir}: {what}: {source}")]
    Io {
        dir: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("private PostgreSQL in {dir}: {what} failed; its log: {log}")]
    Command {
        dir: PathBuf,
        what: &'static str,
        log: PathBuf,
    },
    #[error(
        "private PostgreSQL in {dir}: running as root, but there is no unprivileged user (postgres or nobody) to run it as"
    )]
    NoUnprivilegedUser { dir: PathBuf },
}

/// A running private server.
#[derive(Debug, Clone)]
pub struct PrivateServer {
    /// `postgres://postgres@<socket dir, percent-encoded>/postgres`: the maintenance
    /// database; put another database name in the path to use it.
    pub url: String,
    pub dir: PathBuf,
    pub bindir: PathBuf,
    /// True when this call started it (false: it was running already, shared).
    pub started: bool,
}

/// Connects to `url` (a maintenance database), to tell whether we may use that server.
/// `Err` says why not: nothing answering, or the server refusing us (a password is
/// required, no such role).
pub async fn server_lets_us_in(url: &str) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(3), AsyncPgConnection::establish(url)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("no answer within 3 s".to_owned()),
    }
}

/// Where the private server of `purpose` (`dev` for `cargo run`, `test` for the tests)
/// keeps its data: `XWMS_DEV_DATABASE_DIR` if set; as root `/var/lib/xwms-starter/<purpose>-postgres`
/// (a place the unprivileged server user can reach); otherwise
/// `$XDG_DATA_HOME/xwms-starter/<purpose>-postgres` (`~/.local/share/...`).
pub fn default_dir(purpose: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("XWMS_DEV_DATABASE_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir).join(format!("{purpose}-postgres"));
    }
    if running_as_root() {
        return PathBuf::from(format!("/var/lib/xwms-starter/{purpose}-postgres"));
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    data_home.join(format!("xwms-starter/{purpose}-postgres"))
}

/// Starts the private server in `dir` unless it runs already, and registers this process
/// as one of its clients (the server stops a few seconds after its last client ends).
/// Blocking: call it from `spawn_blocking`.
pub fn ensure_private_server(dir: &Path) -> Result<PrivateServer, DevDatabaseError> {
    let bindir = find_bindir().ok_or(DevDatabaseError::NoBinaries)?;
    let io = |what: &'static str| {
        let dir = dir.to_owned();
        move |source| DevDatabaseError::Io { dir, what, source }
    };
    let owner = server_owner(dir)?;
    for sub in ["", "clients", "socket"] {
        fs::create_dir_all(dir.join(sub)).map_err(io("creating the directory"))?;
    }
    if let Some(owner) = owner {
        // The server's user must own its directory (it refuses a data dir it cannot own).
        for sub in ["", "socket"] {
            std::os::unix::fs::chown(dir.join(sub), Some(owner.uid), Some(owner.gid))
                .map_err(io("handing the directory to the server's user"))?;
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io("chmod 700"))?;

    // One process at a time decides whether to init, start, or reuse.
    let lock = fs::File::create(dir.join("lock")).map_err(io("creating the lock file"))?;
    lock.lock().map_err(io("locking"))?;

    let data = dir.join("data");
    let log = dir.join("server.log");
    if !data.join("PG_VERSION").exists() {
        run_as(
            owner,
            Command::new(bindir.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]),
            &log,
        )
        .then_some(())
        .ok_or_else(|| DevDatabaseError::Command {
            dir: dir.to_owned(),
            what: "initdb",
            log: log.clone(),
        })?;
    }
    let started = !is_running(&data);
    if started {
        let options = format!("-c listen_addresses='' -k {}", dir.join("socket").display());
        let ok = run_as(
            owner,
            Command::new(bindir.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-o", &options, "-w", "-t"])
                .arg(START_TIMEOUT.as_secs().to_string())
                .arg("start")
                // Its own process group: a Ctrl-C meant for `cargo run` must not kill the
                // server under the other clients; the watchdog stops it.
                .process_group(0),
            &dir.join("pg_ctl.log"),
        );
        if !ok {
            return Err(DevDatabaseError::Command {
                dir: dir.to_owned(),
                what: "starting the server (pg_ctl start)",
                log,
            });
        }
    }
    fs::write(
        dir.join("clients").join(std::process::id().to_string()),
        b"",
    )
    .map_err(io("registering this process"))?;
    start_watchdog(dir, &data).map_err(io("starting the watchdog"))?;
    drop(lock);

    Ok(PrivateServer {
        url: format!(
            "postgres://postgres@{}/postgres",
            percent_encoding::utf8_percent_encode(
                &dir.join("socket").to_string_lossy(),
                percent_encoding::NON_ALPHANUMERIC
            )
        ),
        dir: dir.to_owned(),
        bindir,
        started,
    })
}

/// `postgres://postgres@<socket>/postgres` -> the same server, database `name`.
pub fn with_database(server_url: &str, name: &str) -> String {
    match server_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => server_url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

/// `None`: run the server as ourselves. As root: the `postgres` user, else `nobody`.
fn server_owner(dir: &Path) -> Result<Option<Owner>, DevDatabaseError> {
    if !running_as_root() {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    ["postgres", "nobody"]
        .iter()
        .find_map(|name| {
            passwd.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.first() == Some(name) && fields.len() > 3).then(|| {
                    Some(Owner {
                        uid: fields[2].parse().ok()?,
                        gid: fields[3].parse().ok()?,
                    })
                })?
            })
        })
        .map(Some)
        .ok_or_else(|| DevDatabaseError::NoUnprivilegedUser {
            dir: dir.to_owned(),
        })
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Runs `command` (as `owner`, if set), its output appended to `log`; true on success.
fn run_as(owner: Option<Owner>, command: &mut Command, log: &Path) -> bool {
    let Ok(file) = fs::OpenOptions::new().create(true).append(true).open(log) else {
        return false;
    };
    if let Some(owner) = owner {
        command.uid(owner.uid).gid(owner.gid);
        // Its own HOME: the server's user cannot read ours.
        command.env("HOME", "/tmp");
        // The server (as that user) appends its own log to this file.
        let _ = std::os::unix::fs::chown(log, Some(owner.uid), Some(owner.gid));
    }
    let (Ok(out), Ok(err)) = (file.try_clone(), file.try_clone()) else {
        return false;
    };
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether the postmaster of `data` runs (its pid file names a live process).
fn is_running(data: &Path) -> bool {
    fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|pid_file| pid_file.lines().next()?.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists() || process_alive(pid))
}

/// `kill -0 pid`, for systems without `/proc`.
fn process_alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The watchdog: a shell loop that forgets dead clients and, once none has been alive
/// for `IDLE_SECS_BEFORE_STOP` seconds, stops the server (fast shutdown) and exits.
const WATCHDOG: &str = r#"
dir=$1; data=$2; idle_limit=$3; idle=0
echo $$ > "$dir/watchdog.pid"
while :; do
  sleep 1
  alive=0
  for client in "$dir"/clients/*; do
    [ -e "$client" ] || continue
    if kill -0 "${client##*/}" 2>/dev/null; then alive=1; else rm -f "$client"; fi
  done
  if [ "$alive" = 1 ]; then idle=0; continue; fi
  idle=$((idle + 1))
  [ "$idle" -ge "$idle_limit" ] || continue
  # Decide under the same lock the clients take, so none registers while we stop.
  if command -v flock >/dev/null 2>&1; then exec 9>"$dir/lock"; flock 9; fi
  if ls "$dir"/clients/ 2>/dev/null | grep -q .; then
    idle=0; exec 9>&-; continue
  fi
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
  if [ -n "$pid" ]; then
    kill -INT "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$dir/watchdog.pid"
  exit 0
done
"#;

fn start_watchdog(dir: &Path, data: &Path) -> std::io::Result<()> {
    let running = fs::read_to_string(dir.join("watchdog.pid"))
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(process_alive);
    if running {
        return Ok(());
    }
    Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("xwms-dev-database-watchdog")
        .arg(dir)
        .arg(data)
        .arg(IDLE_SECS_BEFORE_STOP.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    // Wait until it has written its pid, so a second client does not start another.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !dir.join("watchdog.pid").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = fs::OpenOptions::new()
        .append(true)
        .open(dir.join("server.log"))
        .and_then(|mut log| writeln!(log, "watchdog started"));
    Ok(())
}

/// Where the PostgreSQL programs are: the newest version found.
pub fn find_bindir() -> Option<PathBuf> {
    let has_programs = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Some(dir) = std::env::var_os("PG_BINDIR").map(PathBuf::from) {
        return has_programs(&dir).then_some(dir);
    }
    let newest_in = |pattern_dir: &str, prefix: &str, suffix: &str| -> Option<PathBuf> {
        let mut found: Vec<(u32, PathBuf)> = fs::read_dir(pattern_dir)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let version: u32 = name.strip_prefix(prefix)?.split('.').next()?.parse().ok()?;
                let bin = entry.path().join(suffix);
                has_programs(&bin).then_some((version, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, bin)| bin)
    };
    newest_in("/usr/lib/postgresql", "", "bin")
        .or_else(|| newest_in("/opt/homebrew/opt", "postgresql@", "bin"))
        .or_else(|| newest_in("/usr/local/opt", "postgresql@", "bin"))
        .or_else(|| {
            let out = Command::new("pg_config").arg("--bindir").output().ok()?;
            let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
            has_programs(&dir).then_some(dir)
        })
        .or_else(|| std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| has_programs(dir)))
}
