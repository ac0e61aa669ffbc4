//! The docs must not drift from the code: every command in the README's shell blocks is run
//! by CI, every variable in the configuration table (docs/configuration.md) is one the code
//! reads (and the other way round), and every route in its routes table answers.

use std::collections::BTreeSet;

use std::path::Path;
use xwms_starter::support::config;

use crate::helpers::spawn_app;

fn file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Each command the README shows, the file CI runs it from, and the line there that runs
/// it (compose builds cannot reach a registry in CI, so `docker-smoke` builds the image
/// first and then runs the compose file's `up`).
const EXERCISED: &[(&str, &str, &str)] = &[
    (
        "docker compose up --build",
        "scripts/docker-smoke",
        "docker-compose",
    ),
    (
        "docker-compose up --build",
        "scripts/docker-smoke",
        "docker-compose",
    ),
    (
        "cargo run",
        "scripts/first-run",
        "cargo run --offline --locked",
    ),
    ("cargo test", ".ci/run", "\ncargo test --locked 2>&1"),
    (
        "cargo test --test browser",
        ".ci/run",
        "\ncargo test --locked --test browser",
    ),
    (
        "cargo generate --git https://github.com/<you>/xwms-starter --name acme-login",
        "scripts/template-check",
        "cargo generate --path",
    ),
];

/// The commands of every ```sh block, without comments and `# or ...` alternatives.
fn readme_commands(readme: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    for line in readme.lines() {
        let fence = line.trim_start();
        if fence.starts_with("```") {
            in_shell = !in_shell && fence == "```sh";
            continue;
        }
        if in_shell {
            let command = line.split('#').next().unwrap_or_default().trim();
            if !command.is_empty() {
                commands.push(command.to_owned());
            }
        }
    }
    commands
}

#[test]
fn every_shell_command_in_the_readme_is_run_by_ci() {
    let readme = file("README.md");
    let ci = file(".ci/run");
    let commands = readme_commands(&readme);
    assert!(commands.contains(&"cargo test".to_owned()), "{commands:?}");

    for command in &commands {
        let (_, runner, line) = EXERCISED
            .iter()
            .find(|(shown, _, _)| shown == command)
            .unwrap_or_else(|| panic!("README command {command:?} is run by no CI step"));
        assert!(
            file(runner).contains(line),
            "{runner} does not run {command:?}"
        );
        if runner.starts_with("scripts/") {
            assert!(
                ci.contains(&format!("\n{runner}")),
                ".ci/run does not call {runner}"
            );
        }
    }
}

/// `NAME` of every row of the configuration table.
fn documented_variables(doc: &str) -> BTreeSet<String> {
    let table = doc
        .split("| Variable | Default | Meaning |")
        .nth(1)
        .expect("the configuration table");
    table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .flat_map(|line| {
            let first = line.split('|').nth(1).unwrap_or_default();
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Upper-case string literals that name environment variables in `code`.
fn variable_literals(code: &str) -> BTreeSet<String> {
    code.split('"')
        .skip(1)
        .step_by(2)
        .filter(|text| {
            text.len() > 2
                && text.contains('_')
                && text
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_configuration_table_lists_exactly_the_variables_the_code_reads() {
    let documented = documented_variables(&file("docs/configuration.md"));
    // Every setting's variable (its key in config/default.toml, named by the rule of
    // `variable_of`), the other spellings, and the variables read elsewhere.
    let mut code: BTreeSet<String> = config::setting_keys()
        .iter()
        .map(|key| config::variable_of(key))
        .chain(config::ALIASES.iter().map(|(alias, _)| (*alias).to_owned()))
        .collect();
    for source in [
        "src/support/config.rs",
        "crates/dev-postgres/src/lib.rs",
        "crates/pg-connect/src/lib.rs",
        "src/main.rs",
        "tests/api/helpers.rs",
    ] {
        code.extend(variable_literals(&file(source)));
    }
    // Read by env_logger itself.
    code.insert("RUST_LOG".to_owned());
    // Not settings: the tests' own constants and switches (TEST_LOG, in "Tests in
    // detail"), a file PostgreSQL writes, the XDG base directory, and the locale passed on
    // to the private PostgreSQL.
    code.retain(|name| {
        !name.starts_with("FAKE_")
            && !name.starts_with("LC_")
            && ![
                "TEST_SESSION_KEY",
                "TEST_LOG",
                "PG_VERSION",
                "XDG_DATA_HOME",
            ]
            .contains(&name.as_str())
    });
    for name in ["APP_ENV", "HOST", "PORT", "WORKERS"] {
        code.insert(name.to_owned());
    }

    let missing: Vec<_> = code.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "read by the code, not in docs/configuration.md: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "in docs/configuration.md, read by no code: {stale:?}"
    );
}

#[actix_web::test]
async fn every_route_in_the_routes_table_answers() {
    let doc = file("docs/configuration.md");
    let table = doc
        .split("| Route | What it does |")
        .nth(1)
        .expect("the routes table");
    let app = spawn_app().await;
    let mut checked = 0;
    for line in table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
    {
        let first = line.split('|').nth(1).unwrap_or_default();
        for cell in first.split('`').skip(1).step_by(2) {
            let Some((method, path)) = cell.split_once(' ') else {
                continue;
            };
            if !path.starts_with('/') || path.contains('{') {
                continue;
            }
            let path = path.split('?').next().unwrap_or(path);
            let url = app.url(path);
            let response = match method {
                "GET" => crate::helpers::bare_client().get(url).send().await,
                "POST" => crate::helpers::bare_client().post(url).send().await,
                other => panic!("unknown method {other} in {line}"),
            }
            .unwrap();
            let status = response.status().as_u16();
            // Answers: not "no such route" (404, 405), and not a failure (5xx) either.
            assert!(
                status != 404 && status != 405 && status < 500,
                "{method} {path} answers {status}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} routes found in the table");
}

/// The `(target)` of every Markdown link `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn every_relative_link_of_the_readme_and_the_docs_leads_to_a_file_that_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for target in link_targets(&text) {
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") || path.contains(' ') {
                continue;
            }
            let resolved = page.parent().unwrap().join(path);
            assert!(
                resolved.exists(),
                "{}: the link to {target} leads nowhere",
                page.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} links found");
}
