//! Starts the app: logging, settings, then the server until it is stopped.

use xwms_starter::config::Settings;
use xwms_starter::startup::Application;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    // A git-ignored `.env` is read when present; real environment variables win. A
    // broken `.env` stops the start: dotenvy would otherwise stop at the bad line and
    // silently leave every later variable at its default.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("configuration error: .env: {err}");
        return std::process::ExitCode::from(2);
    }
    // `xwms-starter new-session-key`: a SESSION_KEY, on one line, wherever the app runs.
    if std::env::args().nth(1).as_deref() == Some("new-session-key") {
        println!("{}", xwms_starter::config::new_session_key());
        return std::process::ExitCode::SUCCESS;
    }
    // `xwms-starter healthcheck`: for container health checks (the image has no curl).
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return match xwms_starter::healthcheck::probe(xwms_starter::healthcheck::configured_port())
        {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(problem) => {
                eprintln!("{problem}");
                std::process::ExitCode::FAILURE
            }
        };
    }
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
