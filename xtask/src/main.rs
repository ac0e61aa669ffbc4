//! `cargo xtask`: one menu for the project's tasks. Each task is a thin call to the cargo
//! command or the script that does the work, so the scripts stay the one place where a task
//! is defined and this file only makes them easy to find (`cargo xtask` lists them).
//!
//! Standard library only: no argument parser, so the menu compiles in a second or two on a
//! fresh clone and needs nothing installed beyond cargo (the scripts need bash: on Windows
//! the one of Git for Windows or WSL).

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// What runs a task: cargo with fixed arguments, or a bash script of the repository. The
/// arguments after the task's name are passed on.
enum Runs {
    Cargo(&'static [&'static str]),
    Script(&'static str),
}

struct Task {
    name: &'static str,
    runs: Runs,
    about: &'static str,
}

const TASKS: &[Task] = &[
    Task {
        name: "run",
        runs: Runs::Cargo(&["run", "--"]),
        about: "start the app (cargo run): the sandbox login at http://localhost:3000",
    },
    Task {
        name: "test",
        runs: Runs::Cargo(&["test"]),
        about: "the unit and API tests (cargo test; needs PostgreSQL, see README)",
    },
    Task {
        name: "browser",
        runs: Runs::Cargo(&["test", "--test", "browser"]),
        about: "the browser tests in headless Chromium (cargo test --test browser)",
    },
    Task {
        name: "ci",
        runs: Runs::Script(".ci/run"),
        about: "everything CI checks (.ci/run)",
    },
    Task {
        name: "bench",
        runs: Runs::Script("scripts/bench"),
        about: "the login benchmark (scripts/bench; --quick for one short run)",
    },
    Task {
        name: "mutants",
        runs: Runs::Script("scripts/mutants"),
        about: "mutation testing of the security code (scripts/mutants; about an hour)",
    },
    Task {
        name: "rename",
        runs: Runs::Script("scripts/rename"),
        about: "give the project your name (scripts/rename NEW_NAME)",
    },
];

fn main() -> ExitCode {
    let mut args = env::args_os().skip(1);
    let Some(name) = args.next() else {
        print!("{}", menu());
        return ExitCode::SUCCESS;
    };
    if name == "-h" || name == "--help" || name == "help" {
        print!("{}", menu());
        return ExitCode::SUCCESS;
    }
    let Some(task) = TASKS.iter().find(|task| name == task.name) else {
        eprint!("xtask: no task {:?}\n\n{}", name.to_string_lossy(), menu());
        return ExitCode::from(2);
    };
    let rest: Vec<OsString> = args.collect();
    run(task, &rest)
}

/// The usage line and one line per task.
fn menu() -> String {
    let width = TASKS.iter().map(|task| task.name.len()).max().unwrap_or(0);
    let mut text = String::from("Usage: cargo xtask TASK [ARGS...]\n\nTasks:\n");
    for task in TASKS {
        text.push_str(&format!("  {:width$}  {}\n", task.name, task.about));
    }
    text.push_str("\nARGS go to the command or script (e.g. cargo xtask test --lib).\n");
    text
}

fn run(task: &Task, rest: &[OsString]) -> ExitCode {
    let root = workspace_root();
    let mut command = match task.runs {
        Runs::Cargo(fixed) => {
            // The cargo that runs this task (set by `cargo run`), so a `cargo +nightly
            // xtask` stays on nightly.
            let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
            let mut command = Command::new(cargo);
            command.args(fixed);
            command
        }
        Runs::Script(script) => {
            let mut command = Command::new("bash");
            command.arg(script);
            command
        }
    };
    command.args(rest).current_dir(&root);
    match command.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        // A script's own exit code, or 1 when it was ended by a signal.
        Ok(status) => ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ),
        Err(err) => {
            let program = command.get_program().to_string_lossy().into_owned();
            eprintln!("xtask: cannot start {program}: {err}");
            if program == "bash" {
                eprintln!("xtask: the scripts need bash (on Windows: Git for Windows or WSL)");
            }
            ExitCode::from(1)
        }
    }
}

/// The repository root: the parent of this crate's directory, wherever the task is started.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_lists_every_task() {
        let menu = menu();
        for task in TASKS {
            assert!(menu.contains(&format!("  {} ", task.name)), "{menu}");
        }
    }

    #[test]
    fn every_script_a_task_calls_exists() {
        for task in TASKS {
            if let Runs::Script(script) = task.runs {
                assert!(
                    workspace_root().join(script).is_file(),
                    "{script} is missing"
                );
            }
        }
    }
}
