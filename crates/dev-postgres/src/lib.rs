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
//!   or `nobody` where there is none. That user owns only `server/` (data, socket, its
//!   log); our own files (the lock, `clients/`, the programs' output) stay in the top
//!   directory, which must be ours and writable by nobody else, so the server's user
//!   cannot point them elsewhere with a link. Whatever happens inside `server/` is done
//!   by programs running as that user, never by root;
//! - environment: the PostgreSQL programs get only `PATH`, the locale, `TZ`, `TMPDIR` and
//!   `HOME`, never the app's secrets;
//! - lifetime: every process that uses it registers its pid in `clients/`; a small
//!   watchdog (run as the server's user) stops the server with `pg_ctl stop` once no
//!   registered process has been alive for a few seconds. So it stops when the app stops,
//!   and the test binaries of one `cargo test` share one server, started by the first and
//!   stopped after the last.
//!
//! Unix only (PostgreSQL on a socket, users, process groups). Elsewhere, development
//! without `DATABASE_URL` stops with a line saying to set it or use `docker compose up`.
//!
//! Production never gets here: the app calls this only in development, and only when
//! built with its `dev-database` feature (the default; the Docker image is built without).

use std::path::PathBuf;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection};

#[cfg(unix)]
pub use self::unix::{default_dir, ensure_private_server, find_bindir};

/// The default server we try before starting one of our own.
pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

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
    #[error("private PostgreSQL in {dir}: {what} failed; its output: {log}")]
    Command {
        dir: PathBuf,
        what: &'static str,
        log: PathBuf,
    },
    #[error(
        "private PostgreSQL in {dir}: running as root, but there is no unprivileged user (postgres or nobody) to run it as"
    )]
    NoUnprivilegedUser { dir: PathBuf },
    #[error(
        "private PostgreSQL in {dir}: {problem}; remove it or choose another XWMS_DEV_DATABASE_DIR"
    )]
    UnsafeDirectory { dir: PathBuf, problem: String },
    #[error(
        "DATABASE_URL is not set and PostgreSQL at 127.0.0.1:5432 does not let user postgres in; on this system the app cannot start a private PostgreSQL: set DATABASE_URL to your database, or run the demo with `docker compose up --build`"
    )]
    NotOnThisSystem,
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

/// No private server here: the caller stops with [`DevDatabaseError::NotOnThisSystem`].
#[cfg(not(unix))]
pub fn ensure_private_server(_dir: &std::path::Path) -> Result<PrivateServer, DevDatabaseError> {
    Err(DevDatabaseError::NotOnThisSystem)
}

/// Where the private server would keep its data (not used: see [`ensure_private_server`]).
#[cfg(not(unix))]
pub fn default_dir(purpose: &str) -> PathBuf {
    std::env::temp_dir().join(format!("xwms-starter/{purpose}-postgres"))
}

/// `postgres://postgres@<socket>/postgres` -> the same server, database `name`.
pub fn with_database(server_url: &str, name: &str) -> String {
    match server_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => server_url.to_owned(),
    }
}

#[cfg(unix)]
mod unix {
    //! The server itself: Unix sockets, users, process groups.

    use std::ffi::OsStr;
    use std::fs;
    use std::io::Write as _;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt as _;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use super::{DevDatabaseError, PrivateServer};

    /// How long the watchdog waits, once no client is alive, before it stops the server.
    const IDLE_SECS_BEFORE_STOP: u32 = 3;

    /// How long starting the server may take.
    const START_TIMEOUT: Duration = Duration::from_secs(30);

    /// The only variables the PostgreSQL programs and the watchdog get from our
    /// environment, with the locale's `LC_*` (so `initdb` picks the locale it always did)
    /// and `HOME`: the app's own (the XWMS secret, `SESSION_KEY`, `DATABASE_URL`) and
    /// libpq's `PG*` are none of their business.
    const PASSED_ON: &[&str] = &["PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR"];

    /// The name the watchdog runs under (its `$0`), to recognise it in the process list.
    const WATCHDOG_NAME: &str = "xwms-dev-database-watchdog";

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
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
            })
            .unwrap_or_else(std::env::temp_dir);
        data_home.join(format!("xwms-starter/{purpose}-postgres"))
    }

    /// Starts the private server in `dir` unless it runs already, and registers this process
    /// as one of its clients (the server stops a few seconds after its last client ends).
    /// Blocking: call it from `spawn_blocking`.
    pub fn ensure_private_server(dir: &Path) -> Result<PrivateServer, DevDatabaseError> {
        let bindir = find_bindir().ok_or(DevDatabaseError::NoBinaries)?;
        let owner = server_owner(dir)?;
        let dir = own_directory(dir, owner.is_some())?;
        let dir = dir.as_path();
        let io = |what: &'static str| {
            let dir = dir.to_owned();
            move |source| DevDatabaseError::Io { dir, what, source }
        };
        let failed = |what: &'static str, log: &str| DevDatabaseError::Command {
            dir: dir.to_owned(),
            what,
            log: dir.join(log),
        };

        // One process at a time decides whether to init, start, or reuse.
        let lock = fs::File::create(dir.join("lock")).map_err(io("creating the lock file"))?;
        // Readable by the watchdog, which runs as the server's user and takes it too.
        lock.set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io("chmod 644 lock"))?;
        lock.lock().map_err(io("locking"))?;
        let clients = dir.join("clients");
        fs::create_dir_all(&clients).map_err(io("creating clients/"))?;
        fs::set_permissions(&clients, fs::Permissions::from_mode(0o755))
            .map_err(io("chmod 755 clients/"))?;

        let server = server_directory(dir, owner)?;
        let data = server.join("data");
        let socket = server.join("socket");
        if !run_as(
            owner,
            Command::new("mkdir").arg("-p").arg(&socket),
            &dir.join("pg_ctl.log"),
        ) {
            return Err(failed("creating server/socket", "pg_ctl.log"));
        }
        if !data.join("PG_VERSION").exists() {
            let ok = run_as(
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
                &dir.join("initdb.log"),
            );
            if !ok {
                return Err(failed("initdb", "initdb.log"));
            }
        }
        let started = postmaster_of(&data).is_none();
        if started {
            // A pid file naming no postmaster of ours is stale (a crash, a reboot); the
            // server would refuse to start while its pid is some other live process.
            let ok = run_as(
                owner,
                Command::new("rm")
                    .arg("-f")
                    .arg(data.join("postmaster.pid")),
                &dir.join("pg_ctl.log"),
            ) && run_as(
                owner,
                Command::new(bindir.join("pg_ctl"))
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(server.join("server.log"))
                    .arg("-o")
                    .arg(server_options(&socket))
                    .arg("-w")
                    .arg("-t")
                    .arg(START_TIMEOUT.as_secs().to_string())
                    .arg("start")
                    // Its own process group: a Ctrl-C meant for `cargo run` must not kill
                    // the server under the other clients; the watchdog stops it.
                    .process_group(0),
                &dir.join("pg_ctl.log"),
            );
            if !ok {
                return Err(DevDatabaseError::Command {
                    dir: dir.to_owned(),
                    what: "starting the server (pg_ctl start)",
                    log: server.join("server.log"),
                });
            }
        }
        register_client(&clients).map_err(io("registering this process"))?;
        start_watchdog(dir, &bindir, &data, owner).map_err(io("starting the watchdog"))?;
        drop(lock);

        Ok(PrivateServer {
            url: format!(
                "postgres://postgres@{}/postgres",
                percent_encoding::utf8_percent_encode(
                    &socket.to_string_lossy(),
                    percent_encoding::NON_ALPHANUMERIC
                )
            ),
            dir: dir.to_owned(),
            bindir,
            started,
        })
    }

    /// `-o` of `pg_ctl start`: no TCP, the socket in `socket`. pg_ctl hands this string to
    /// a shell, so the path is quoted for it (a space or a quote in the path is data).
    pub(super) fn server_options(socket: &Path) -> String {
        let path = socket.to_string_lossy().replace('\'', r"'\''");
        format!("-c listen_addresses= -k '{path}'")
    }

    #[derive(Debug, Clone, Copy)]
    pub(super) struct Owner {
        pub(super) uid: u32,
        pub(super) gid: u32,
    }

    /// `None`: run the server as ourselves. As root: the `postgres` user, else `nobody`.
    pub(super) fn server_owner(dir: &Path) -> Result<Option<Owner>, DevDatabaseError> {
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

    fn current_uid() -> Option<u32> {
        if let Ok(meta) = fs::metadata("/proc/self") {
            return Some(meta.uid());
        }
        let out = Command::new("id").arg("-u").output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    }

    fn running_as_root() -> bool {
        current_uid() == Some(0)
    }

    /// Creates `dir` if needed and makes sure it is ours: a real directory (not a link),
    /// owned by us, writable by nobody else. Only then may we open paths inside it without
    /// a link leading somewhere else. Returns its canonical path (the server's command
    /// line names it, see [`postmaster_of`]).
    ///
    /// A directory of the old layout (the server's user owned it all; `data/` at the top)
    /// becomes `server/` of a new one, its data kept.
    pub(super) fn own_directory(dir: &Path, as_root: bool) -> Result<PathBuf, DevDatabaseError> {
        let unsafe_dir = |problem: String| DevDatabaseError::UnsafeDirectory {
            dir: dir.to_owned(),
            problem,
        };
        let io = |what: &'static str| {
            let dir = dir.to_owned();
            move |source| DevDatabaseError::Io { dir, what, source }
        };
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(io("creating the parent directory"))?;
        }
        let old_layout = fs::symlink_metadata(dir.join("data")).is_ok_and(|meta| meta.is_dir())
            && fs::symlink_metadata(dir.join("server")).is_err();
        if old_layout {
            if postmaster_of(&dir.join("data")).is_some() {
                return Err(unsafe_dir(
                    "a server of an older version of the app still runs there (it stops a few seconds after its last client); try again then".to_owned(),
                ));
            }
            let moving = dir.with_extension("moving");
            fs::rename(dir, &moving).map_err(io("moving the old layout aside"))?;
            fs::create_dir(dir).map_err(io("creating the directory"))?;
            fs::rename(&moving, dir.join("server"))
                .map_err(io("moving the old layout to server/"))?;
        }
        match fs::create_dir(dir) {
            Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(io("creating the directory")(err));
            }
            _ => {}
        }
        let meta = fs::symlink_metadata(dir).map_err(io("reading the directory"))?;
        if !meta.is_dir() {
            return Err(unsafe_dir("it is not a directory (a link?)".to_owned()));
        }
        if Some(meta.uid()) != current_uid() {
            return Err(unsafe_dir(format!(
                "it belongs to uid {}, not to us",
                meta.uid()
            )));
        }
        // The server's user passes through to server/ and reads the lock and clients/.
        let mode = if as_root { 0o711 } else { 0o700 };
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(io("chmod"))?;
        fs::canonicalize(dir).map_err(io("resolving the directory"))
    }

    /// `dir/server`, the server's user's (created here, in our directory, and handed over;
    /// nothing inside it is touched by us).
    fn server_directory(dir: &Path, owner: Option<Owner>) -> Result<PathBuf, DevDatabaseError> {
        let server = dir.join("server");
        let io = |what: &'static str| {
            let dir = dir.to_owned();
            move |source| DevDatabaseError::Io { dir, what, source }
        };
        match fs::create_dir(&server) {
            Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(io("creating server/")(err));
            }
            _ => {}
        }
        let meta = fs::symlink_metadata(&server).map_err(io("reading server/"))?;
        if !meta.is_dir() {
            return Err(DevDatabaseError::UnsafeDirectory {
                dir: dir.to_owned(),
                problem: "server/ is not a directory (a link?)".to_owned(),
            });
        }
        if let Some(owner) = owner {
            // The server's user must own its directory (it refuses a data dir it cannot
            // own). lchown: never through a link.
            std::os::unix::fs::lchown(&server, Some(owner.uid), Some(owner.gid))
                .map_err(io("handing server/ to the server's user"))?;
        }
        fs::set_permissions(&server, fs::Permissions::from_mode(0o700))
            .map_err(io("chmod 700 server/"))?;
        Ok(server)
    }

    /// `command` with only the environment it needs ([`PASSED_ON`], `LC_*` and `HOME`), run
    /// from `/`.
    pub(super) fn limit_environment(command: &mut Command, owner: Option<Owner>) {
        command.env_clear().current_dir("/");
        for (name, value) in std::env::vars_os() {
            let wanted = name.to_str().is_some_and(|name| {
                PASSED_ON.contains(&name) || (name.starts_with("LC_") && name.len() > 3)
            });
            if wanted {
                command.env(name, value);
            }
        }
        match (owner, std::env::var_os("HOME")) {
            // Its own HOME: the server's user cannot read ours.
            (Some(_), _) => {
                command.env("HOME", "/tmp");
            }
            (None, Some(home)) => {
                command.env("HOME", home);
            }
            (None, None) => {}
        }
    }

    /// Runs `command` (as `owner`, if set) with a limited environment, its output appended
    /// to `log` (a file in our own directory, opened here); true on success.
    pub(super) fn run_as(owner: Option<Owner>, command: &mut Command, log: &Path) -> bool {
        let Ok(file) = fs::OpenOptions::new().create(true).append(true).open(log) else {
            return false;
        };
        limit_environment(command, owner);
        if let Some(owner) = owner {
            command.uid(owner.uid).gid(owner.gid);
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

    /// The pid on the first line of a `postmaster.pid` (or any pid file): a number above 1.
    /// 0, 1 and negative numbers (`kill -1` signals every process) are never a server.
    pub(super) fn parse_pid(pid_file: &str) -> Option<u32> {
        pid_file
            .lines()
            .next()?
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|pid| *pid > 1)
    }

    /// The pid of the running postmaster of `data`: the pid its pid file names, if that
    /// process is a `postgres` started with `-D <data>` (a stale file's pid may belong to
    /// any process by now).
    pub(super) fn postmaster_of(data: &Path) -> Option<u32> {
        let pid = parse_pid(&fs::read_to_string(data.join("postmaster.pid")).ok()?)?;
        let args = command_line(pid)?;
        let data = data.to_string_lossy();
        let (program, rest) = args.split_once(" -D ")?;
        let is_postgres = ["postgres", "postmaster"]
            .iter()
            .any(|name| program.ends_with(name));
        let serves_data = rest == data
            || rest
                .strip_prefix(data.as_ref())
                .is_some_and(|after| after.starts_with(' '));
        (is_postgres && serves_data).then_some(pid)
    }

    /// The command line of process `pid`, its arguments joined by spaces.
    fn command_line(pid: u32) -> Option<String> {
        if let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) {
            let args: Vec<String> = raw
                .split(|byte| *byte == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            return (!args.is_empty()).then(|| args.join(" "));
        }
        let out = Command::new("ps")
            .args(["-o", "args=", "-p", &pid.to_string()])
            .output()
            .ok()?;
        let args = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !args.is_empty()).then_some(args)
    }

    /// `kill -0 pid` (we are root or the process's user), or `/proc/<pid>`.
    fn process_alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
            || Command::new("kill")
                .args(["-0", &pid.to_string()])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
    }

    /// Adds this process to `clients/` and forgets the ones that are gone (under the lock).
    fn register_client(clients: &Path) -> std::io::Result<()> {
        for entry in fs::read_dir(clients)?.filter_map(Result::ok) {
            let gone = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
                .is_none_or(|pid| !process_alive(pid));
            if gone {
                let _ = fs::remove_file(entry.path());
            }
        }
        fs::write(clients.join(std::process::id().to_string()), b"")
    }

    /// The watchdog: a shell loop, run as the server's user, that once no client in
    /// `clients/` has been alive for `IDLE_SECS_BEFORE_STOP` seconds stops the server
    /// (`pg_ctl stop`, fast) and exits. It reads our directory and removes nothing; it exits
    /// too when `clients/` is gone.
    const WATCHDOG: &str = r#"
dir=$1; bindir=$2; data=$3; idle_limit=$4; idle=0
any_client_alive() {
  for client in "$dir"/clients/*; do
    pid=${client##*/}
    case $pid in ''|*[!0-9]*|0|1) continue ;; esac
    if [ -d "/proc/$pid" ] || ps -p "$pid" >/dev/null 2>&1; then return 0; fi
  done
  return 1
}
while :; do
  sleep 1
  [ -d "$dir/clients" ] || exit 0
  if any_client_alive; then idle=0; continue; fi
  idle=$((idle + 1))
  [ "$idle" -ge "$idle_limit" ] || continue
  # Decide under the same lock the clients take, so none registers while we stop.
  if command -v flock >/dev/null 2>&1; then exec 9<"$dir/lock"; flock 9; fi
  if any_client_alive; then idle=0; exec 9<&-; continue; fi
  "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
  exit 0
done
"#;

    /// Whether the watchdog of `dir` runs: `watchdog.pid` names a live process that is it.
    pub(super) fn watchdog_of(dir: &Path) -> Option<u32> {
        let pid = parse_pid(&fs::read_to_string(dir.join("watchdog.pid")).ok()?)?;
        let args = command_line(pid)?;
        (args.contains(WATCHDOG_NAME) && args.contains(&*dir.to_string_lossy())).then_some(pid)
    }

    fn start_watchdog(
        dir: &Path,
        bindir: &Path,
        data: &Path,
        owner: Option<Owner>,
    ) -> std::io::Result<()> {
        if watchdog_of(dir).is_some() {
            return Ok(());
        }
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(WATCHDOG)
            .args([
                OsStr::new(WATCHDOG_NAME),
                dir.as_os_str(),
                bindir.as_os_str(),
            ])
            .arg(data)
            .arg(IDLE_SECS_BEFORE_STOP.to_string());
        limit_environment(&mut command, owner);
        if let Some(owner) = owner {
            command.uid(owner.uid).gid(owner.gid);
        }
        let watchdog = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        fs::write(dir.join("watchdog.pid"), format!("{}\n", watchdog.id()))?;
        let _ = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join("pg_ctl.log"))
            .and_then(|mut log| writeln!(log, "watchdog started (pid {})", watchdog.id()));
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
                    let version: u32 =
                        name.strip_prefix(prefix)?.split('.').next()?.parse().ok()?;
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
            .or_else(|| {
                std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| has_programs(dir))
            })
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt as _;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::unix::{
        Owner, ensure_private_server, limit_environment, own_directory, parse_pid, postmaster_of,
        run_as, server_options, server_owner, watchdog_of,
    };
    use super::{PrivateServer, server_lets_us_in};

    /// A fresh directory under the temporary one, its name with a space and a quote;
    /// removed (its server stopped first) when dropped.
    struct Scratch {
        root: PathBuf,
        owner: Option<Owner>,
    }

    impl Scratch {
        fn new() -> Scratch {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let root = std::env::temp_dir().join(format!(
                "xwms dev's db {}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&root).unwrap();
            fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
            let owner = server_owner(&root).unwrap();
            Scratch { root, owner }
        }

        fn dir(&self) -> PathBuf {
            self.root.join("dev-postgres")
        }

        fn data(&self) -> PathBuf {
            fs::canonicalize(self.dir()).unwrap().join("server/data")
        }

        /// `pg_ctl stop` as the server's user.
        fn stop(&self, server: &PrivateServer) {
            run_as(
                self.owner,
                Command::new(server.bindir.join("pg_ctl"))
                    .arg("-D")
                    .arg(self.data())
                    .args(["-m", "immediate", "-w", "stop"]),
                &self.root.join("stop.log"),
            );
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if let (Some(bindir), true) = (super::find_bindir(), self.dir().exists()) {
                let data = self.data();
                if data.join("postmaster.pid").exists() {
                    run_as(
                        self.owner,
                        Command::new(bindir.join("pg_ctl"))
                            .arg("-D")
                            .arg(&data)
                            .args(["-m", "immediate", "-w", "stop"]),
                        &self.root.join("stop.log"),
                    );
                }
            }
            // Without clients/ the watchdog exits.
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    /// `sleep 60` as the server's user: a live process that is not a server.
    fn another_process(owner: Option<Owner>) -> std::process::Child {
        let mut sleep = Command::new("sleep");
        sleep.arg("60");
        if let Some(owner) = owner {
            sleep.uid(owner.uid).gid(owner.gid);
        }
        sleep.spawn().unwrap()
    }

    #[test]
    fn a_pid_file_names_a_process_only_with_a_pid_above_1() {
        for refused in ["-1", "0", "1", "", "abc", " \n4242"] {
            assert_eq!(parse_pid(refused), None, "{refused:?}");
        }
        assert_eq!(parse_pid("4242\n/srv/data\n1700000000\n"), Some(4242));
        assert_eq!(parse_pid(" 2 \n"), Some(2));
    }

    #[test]
    fn a_pid_file_whose_pid_is_now_another_process_is_not_a_running_server() {
        let scratch = Scratch::new();
        let data = scratch.root.join("data");
        fs::create_dir_all(&data).unwrap();
        let mut other = another_process(None);
        for pid in [std::process::id(), other.id()] {
            fs::write(
                data.join("postmaster.pid"),
                format!("{pid}\n{}\n", data.display()),
            )
            .unwrap();

            assert_eq!(postmaster_of(&data), None, "pid {pid}");
        }
        let _ = other.kill();
        let _ = other.wait();
    }

    #[test]
    fn the_postgresql_programs_get_only_the_environment_they_need() {
        let scratch = Scratch::new();
        let log = scratch.root.join("env.log");
        let mut env = Command::new("env");
        // As if inherited from the app's environment.
        env.env("XWMS_CLIENT_SECRET", "s3cret-client")
            .env("SESSION_KEY", "s3cret-session")
            .env("PGPASSWORD", "s3cret-pg");

        assert!(run_as(None, &mut env, &log));

        let seen = fs::read_to_string(&log).unwrap();
        assert!(!seen.contains("s3cret"), "{seen}");
        for line in seen.lines() {
            let name = line.split('=').next().unwrap_or_default();
            assert!(
                ["PATH", "HOME", "TZ", "TMPDIR", "LANG", "LANGUAGE"].contains(&name)
                    || name.starts_with("LC_"),
                "{name} passed on: {seen}"
            );
        }
        let mut as_owner = Command::new("true");
        limit_environment(
            &mut as_owner,
            Some(Owner {
                uid: 65534,
                gid: 65534,
            }),
        );
        let home = as_owner
            .get_envs()
            .find(|(name, _)| *name == "HOME")
            .and_then(|(_, value)| value);
        assert_eq!(home, Some(std::ffi::OsStr::new("/tmp")));
    }

    #[test]
    fn a_directory_of_the_old_layout_keeps_its_data_under_server() {
        let scratch = Scratch::new();
        let dir = scratch.dir();
        fs::create_dir_all(dir.join("data")).unwrap();
        fs::write(dir.join("data/PG_VERSION"), "16\n").unwrap();
        fs::write(dir.join("lock"), "").unwrap();

        let own = own_directory(&dir, scratch.owner.is_some()).unwrap();

        assert_eq!(own, fs::canonicalize(&dir).unwrap());
        let version = fs::read_to_string(own.join("server/data/PG_VERSION")).unwrap();
        assert_eq!(version, "16\n");
        assert!(!own.join("data").exists() && !own.join("lock").exists());
        let meta = fs::symlink_metadata(&own).unwrap();
        assert_eq!(meta.uid(), fs::metadata("/proc/self").unwrap().uid());
        assert_eq!(meta.mode() & 0o022, 0, "writable by nobody else");
    }

    #[test]
    fn a_directory_that_is_not_ours_is_refused() {
        let scratch = Scratch::new();
        let Some(owner) = scratch.owner else {
            eprintln!("not root: we cannot give a directory away to try");
            return;
        };
        let dir = scratch.dir();
        fs::create_dir_all(dir.join("server")).unwrap();
        std::os::unix::fs::lchown(&dir, Some(owner.uid), Some(owner.gid)).unwrap();

        let refused = own_directory(&dir, true).unwrap_err().to_string();

        assert!(refused.contains("belongs to uid"), "{refused}");
        assert!(refused.contains("XWMS_DEV_DATABASE_DIR"), "{refused}");
    }

    #[test]
    fn the_socket_path_reaches_the_server_quoted_for_pg_ctls_shell() {
        let options = server_options(Path::new("/srv/it's here/socket"));

        let out = Command::new("sh")
            .args(["-c", &format!("printf '%s\\n' {options}")])
            .output()
            .unwrap();

        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "-c\nlisten_addresses=\n-k\n/srv/it's here/socket\n"
        );
    }

    #[tokio::test]
    async fn a_private_server_starts_in_a_path_with_a_space_and_over_a_stale_pid_file() {
        let scratch = Scratch::new();
        let dir = scratch.dir();

        let first = tokio::task::spawn_blocking(move || ensure_private_server(&dir))
            .await
            .unwrap()
            .unwrap();
        assert!(first.started);
        server_lets_us_in(&first.url).await.unwrap();
        assert!(postmaster_of(&scratch.data()).is_some());
        // The watchdog runs as the server's user, never as root.
        let watchdog = watchdog_of(&first.dir).expect("the watchdog runs");
        let watchdog_uid = fs::metadata(format!("/proc/{watchdog}")).unwrap().uid();
        let own_uid = fs::metadata("/proc/self").unwrap().uid();
        assert_eq!(
            watchdog_uid,
            scratch.owner.map_or(own_uid, |owner| owner.uid)
        );

        // A crash leaves the pid file; its pid now belongs to another process.
        scratch.stop(&first);
        let mut other = another_process(scratch.owner);
        let stale = format!("{}\n{}\n", other.id(), scratch.data().display());
        fs::write(scratch.data().join("postmaster.pid"), stale).unwrap();

        let dir = scratch.dir();
        let second = tokio::task::spawn_blocking(move || ensure_private_server(&dir))
            .await
            .unwrap();
        let _ = other.kill();
        let _ = other.wait();
        let second = second.unwrap();
        assert!(second.started, "the stale pid file was taken for a server");
        server_lets_us_in(&second.url).await.unwrap();
    }

    #[tokio::test]
    async fn links_planted_by_the_servers_user_never_lead_root_elsewhere() {
        let scratch = Scratch::new();
        let Some(owner) = scratch.owner else {
            eprintln!("not root: the server runs as ourselves, there is nobody to defend against");
            return;
        };
        let dir = scratch.dir();
        let first = tokio::task::spawn_blocking(move || ensure_private_server(&dir))
            .await
            .unwrap()
            .unwrap();
        scratch.stop(&first);
        // What root must never touch: a file and a directory only root may change.
        let victims = scratch.root.join("victims");
        fs::create_dir(&victims).unwrap();
        fs::set_permissions(&victims, fs::Permissions::from_mode(0o700)).unwrap();
        let victim_file = victims.join("file");
        fs::write(&victim_file, "precious").unwrap();
        fs::set_permissions(&victim_file, fs::Permissions::from_mode(0o600)).unwrap();
        let victim_dir = victims.join("dir");
        fs::create_dir(&victim_dir).unwrap();
        fs::write(victim_dir.join("inside"), "precious").unwrap();

        // The server's user replaces whatever it may in the directories it owns (the data
        // directory aside) with links to them.
        let mut planted = 0;
        let mut pending = vec![fs::canonicalize(scratch.dir()).unwrap()];
        while let Some(current) = pending.pop() {
            let meta = fs::symlink_metadata(&current).unwrap();
            for entry in fs::read_dir(&current).unwrap().filter_map(Result::ok) {
                let kind = entry.file_type().unwrap();
                if kind.is_dir() && entry.file_name() != "data" {
                    pending.push(entry.path());
                }
            }
            if meta.uid() != owner.uid {
                continue;
            }
            for (name, target) in [
                ("lock", &victim_file),
                ("server.log", &victim_file),
                ("pg_ctl.log", &victim_file),
                ("initdb.log", &victim_file),
                ("watchdog.pid", &victim_file),
                ("clients", &victim_dir),
                ("socket", &victim_dir),
            ] {
                let path = current.join(name);
                let _ = fs::remove_dir_all(&path);
                let _ = fs::remove_file(&path);
                std::os::unix::fs::symlink(target, &path).unwrap();
                planted += 1;
            }
        }
        assert!(
            planted > 0,
            "the server's user owns a directory of the server"
        );

        let dir = scratch.dir();
        let _ = tokio::task::spawn_blocking(move || ensure_private_server(&dir))
            .await
            .unwrap();

        let file = fs::metadata(&victim_file).unwrap();
        assert_eq!(fs::read_to_string(&victim_file).unwrap(), "precious");
        assert_eq!((file.uid(), file.mode() & 0o777), (0, 0o600));
        let dir = fs::metadata(&victim_dir).unwrap();
        assert_eq!((dir.uid(), dir.mode() & 0o777), (0, 0o755));
        let inside: Vec<_> = fs::read_dir(&victim_dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(inside, ["inside"]);
    }
}
