//! The command line: `serve` (the default), `doctor`, `new-session-key`, `healthcheck`.

use clap::{Parser, Subcommand};
use xwms_starter::app::startup::Application;
use xwms_starter::support::config::Settings;

/// "Log in with XWMS" for actix-web, askama and Diesel on PostgreSQL. Settings come from
/// the environment and a `.env` file in the working directory (see README.md).
#[derive(Parser)]
#[command(name = "xwms-starter", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the app until SIGINT/SIGTERM (the default when no subcommand is given).
    Serve,
    /// Check this deployment (configuration, PostgreSQL, migrations, XWMS, callback,
    /// cookie, session key, proxies) and print a checklist; exit 0 unless a check failed.
    /// It runs no migrations; with real XWMS it asks for one sign-token, never used.
    Doctor {
        /// Print the checklist as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a new random SESSION_KEY (base64 of 64 random bytes) on one line.
    NewSessionKey,
    /// Ask the running app's GET /health on 127.0.0.1:$PORT; exit 0 on a 200 (for
    /// container health checks: the image has no curl).
    Healthcheck,
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    // Parsed first: `--help`, `--version` and a mistyped argument answer (and exit: 0, 0
    // and 2) before anything is read or started.
    let cli = Cli::parse();
    // A git-ignored `.env` is read when present; real environment variables win. A
    // broken `.env` stops the start: dotenvy would otherwise stop at the bad line and
    // silently leave every later variable at its default.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("configuration error: .env: {err}");
        return std::process::ExitCode::from(2);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Doctor { json } => doctor(json).await,
        Command::NewSessionKey => {
            println!("{}", xwms_starter::support::crypto::new_session_key());
            std::process::ExitCode::SUCCESS
        }
        Command::Healthcheck => {
            match xwms_starter::app::healthcheck::probe(
                xwms_starter::app::healthcheck::configured_port(),
            ) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(problem) => {
                    eprintln!("{problem}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

/// `xwms-starter doctor [--json]`: the checklist on stdout; exit 1 when a check failed.
async fn doctor(json: bool) -> std::process::ExitCode {
    let report = xwms_starter::app::doctor::run(|name| std::env::var(name).ok()).await;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if report.passed() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Logging, settings, then the server until it is stopped.
async fn serve() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{err}");
            return std::process::ExitCode::from(2);
        }
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(err) => {
            log::error!("start-up failed: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            log::error!("server stopped with an error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
