//! docs/extending.md must not drift from the code it teaches: every code block that names
//! a file (```` ```rust src/web/routes/notes.rs ````) is still in that file, word for word;
//! every file, link and heading it points at exists; every item it names
//! (`accounts::on_first_login`, `TestApp::login_as`) is defined where it says.

use std::path::{Path, PathBuf};

const GUIDE: &str = "docs/extending.md";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn file(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// `(file, lines)` of every fenced block whose info string names a file after the language.
fn quoted_blocks(guide: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(Option<String>, Vec<String>)> = None;
    for line in guide.lines() {
        let trimmed = line.trim_start();
        match open.take() {
            None if trimmed.starts_with("```") => {
                let quoted = trimmed.trim_start_matches('`').split_whitespace().nth(1);
                open = Some((quoted.map(str::to_owned), Vec::new()));
            }
            None => {}
            // The end of a block: kept when it names a file.
            Some((Some(path), lines)) if trimmed.starts_with("```") => blocks.push((path, lines)),
            Some((None, _)) if trimmed.starts_with("```") => {}
            Some((quoted, mut lines)) => {
                lines.push(line.to_owned());
                open = Some((quoted, lines));
            }
        }
    }
    assert!(open.is_none(), "{GUIDE}: a code block is not closed");
    blocks
}

/// A line that stands for skipped lines in a quote.
fn is_elision(line: &str) -> bool {
    matches!(
        line.trim(),
        "// ..." | "-- ..." | "# ..." | "{# ... #}" | "..."
    )
}

/// Whether `quote` (runs of lines separated by elisions) appears in `source` in order,
/// each run as consecutive lines; lines compare without their indentation.
fn quote_is_in(quote: &[String], source: &str) -> Result<(), String> {
    let source: Vec<&str> = source.lines().map(str::trim).collect();
    let mut from = 0;
    for run in quote.split(|line| is_elision(line)) {
        let run: Vec<&str> = run.iter().map(|line| line.trim()).collect();
        let run = trim_blank_ends(&run);
        if run.is_empty() {
            continue;
        }
        let found = (from..source.len().saturating_sub(run.len() - 1))
            .find(|&start| source[start..start + run.len()] == *run)
            .ok_or_else(|| format!("not found (in this order):\n{}", run.join("\n")))?;
        from = found + run.len();
    }
    Ok(())
}

fn trim_blank_ends<'a, 'b>(lines: &'a [&'b str]) -> &'a [&'b str] {
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    &lines[start..end]
}

#[test]
fn every_code_block_that_names_a_file_is_still_in_that_file_word_for_word() {
    let blocks = quoted_blocks(&file(GUIDE));
    assert!(blocks.len() >= 20, "only {} quoted blocks", blocks.len());
    let mut drifted = Vec::new();
    for (path, lines) in &blocks {
        if let Err(why) = quote_is_in(lines, &file(path)) {
            drifted.push(format!("{path}: {why}"));
        }
    }
    assert!(
        drifted.is_empty(),
        "{GUIDE} quotes code that is no longer there:\n\n{}",
        drifted.join("\n\n")
    );
}

/// Every `code span` of the guide's prose (outside code blocks).
fn code_spans(guide: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut in_block = false;
    for line in guide.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if !in_block {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    // Spans may wrap onto the next line; a newline inside one counts as a space.
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|span| span.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn looks_like_a_path(span: &str) -> bool {
    let plain = !span.is_empty()
        && span
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let file_like = [
        ".rs", ".toml", ".md", ".html", ".sql", ".css", ".yml", ".yaml", ".lock", ".example",
    ]
    .iter()
    .any(|ext| span.ends_with(ext));
    plain && !span.starts_with('/') && (span.contains('/') || file_like)
}

#[test]
fn every_file_and_link_the_guide_points_at_exists() {
    let guide = file(GUIDE);
    let mut missing = Vec::new();
    let mut checked = 0;
    for span in code_spans(&guide) {
        if looks_like_a_path(&span) {
            checked += 1;
            // A bare name (`up.sql`) names a kind of file: one must exist somewhere.
            let exists = root().join(&span).exists()
                || (!span.contains('/') && file_named_exists(root(), &span));
            if !exists {
                missing.push(span);
            }
        }
    }
    let headings: Vec<String> = guide
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| slug(line.trim_start_matches('#')))
        .collect();
    for target in guide
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
    {
        checked += 1;
        if let Some(anchor) = target.strip_prefix('#') {
            if !headings.iter().any(|heading| heading == anchor) {
                missing.push(format!("#{anchor} (no such heading)"));
            }
        } else if !target.contains("://")
            && !root()
                .join("docs")
                .join(target.split('#').next().unwrap_or(target))
                .exists()
        {
            missing.push(format!("link {target}"));
        }
    }
    assert!(checked >= 30, "only {checked} paths and links found");
    assert!(missing.is_empty(), "{GUIDE} points at: {missing:?}");
}

fn file_named_exists(dir: &Path, name: &str) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let path = entry.path();
            let skipped = path
                .file_name()
                .is_some_and(|n| n == "target" || n == ".git");
            !skipped
                && (path.file_name().is_some_and(|n| n == name)
                    || (path.is_dir() && file_named_exists(&path, name)))
        })
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Crates and modules of other projects: their items are not ours to check.
const EXTERNAL: &[&str] = &[
    "actix_web",
    "web",
    "diesel",
    "diesel_async",
    "askama",
    "serde",
    "std",
    "tokio",
    "reqwest",
    "wiremock",
];

/// The `.rs` files a module path may name, under `src/` and `tests/api/`.
fn module_files(segments: &[&str]) -> Vec<PathBuf> {
    let rel = segments.join("/");
    ["src", "tests/api"]
        .iter()
        .flat_map(|base| {
            [
                root().join(base).join(format!("{rel}.rs")),
                root().join(base).join(&rel).join("mod.rs"),
            ]
        })
        .filter(|path| path.is_file())
        .collect()
}

fn all_rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all_rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// Whether `code` defines `name`: a function, type, trait, constant, module or variant.
fn defines(code: &str, name: &str) -> bool {
    code.lines().any(|line| {
        let words: Vec<&str> = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '!'))
            .filter(|word| !word.is_empty())
            .collect();
        let declared = words.windows(2).any(|pair| {
            [
                "fn", "struct", "enum", "trait", "type", "const", "static", "mod",
            ]
            .contains(&pair[0])
                && pair[1] == name
        });
        // Variants are the one definition without a keyword: `    Empty,`, `    Fake(..),`.
        let variant = name.starts_with(|c: char| c.is_ascii_uppercase())
            && line.trim_start().starts_with(name)
            && line.trim_start()[name.len()..].starts_with([',', '(', ' ', '{']);
        declared || variant
    })
}

/// Where `path` (`notes::NoteText::parse`) is defined: the longest module prefix that is
/// a file, then each remaining segment defined in it; with no module prefix, any file of
/// the crate or its tests that defines the first segment.
fn is_defined(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_end_matches("()").split("::").collect();
    for split in (1..segments.len()).rev() {
        let (module, items) = segments.split_at(split);
        for candidate in module_files(module) {
            let code = std::fs::read_to_string(&candidate).unwrap();
            if items.iter().all(|item| defines(&code, item)) {
                return true;
            }
        }
    }
    let mut files = Vec::new();
    all_rust_files(&root().join("src"), &mut files);
    all_rust_files(&root().join("tests"), &mut files);
    files.iter().any(|candidate| {
        let code = std::fs::read_to_string(candidate).unwrap();
        segments.iter().all(|item| defines(&code, item))
    })
}

#[test]
fn every_rust_item_the_guide_names_is_defined_where_it_says() {
    let mut undefined = Vec::new();
    let mut checked = 0;
    for span in code_spans(&file(GUIDE)) {
        let is_path = span.contains("::")
            && span.trim_end_matches("()").split("::").all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_')
            });
        if !is_path || EXTERNAL.contains(&span.split("::").next().unwrap_or_default()) {
            continue;
        }
        checked += 1;
        if !is_defined(&span) {
            undefined.push(span);
        }
    }
    assert!(checked >= 30, "only {checked} items found");
    assert!(
        undefined.is_empty(),
        "{GUIDE} names undefined items: {undefined:?}"
    );
}

#[test]
fn a_quote_that_drifted_is_caught() {
    let source = "fn a() {\n    one();\n    two();\n}\n";
    let quote = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    assert!(quote_is_in(&quote(&["fn a() {", "// ...", "}"]), source).is_ok());
    assert!(quote_is_in(&quote(&["  one();", "  two();"]), source).is_ok());
    assert!(quote_is_in(&quote(&["two();", "// ...", "one();"]), source).is_err());
    assert!(quote_is_in(&quote(&["one();", "three();"]), source).is_err());
    assert!(defines(
        "pub async fn spawn_app() -> TestApp {",
        "spawn_app"
    ));
    assert!(!defines("    spawn_app().await;", "spawn_app"));
}
