//! The HTML pages in a real browser: headless Chromium loads the report of every library
//! scenario, a compare, a sweep and a check page, runs their inline script, and dumps the DOM.
//! The script leaves its marks there (see `reports/src/html/interact.rs`): no script error, every time chart set
//! up, a simulated hover that found values, a zoom that applied to every chart, and the
//! widest table's width. Runs only where `chromium` is installed (`.ci/run` installs it);
//! elsewhere it prints "skipped: no chromium" and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The page may not be wider than this (the summary table once had 19 columns).
const PAGE_WIDTH_MAX_PX: u64 = 1400;
/// One page's load in the browser; a hang fails the test instead of stalling it.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

/// The browser: `FAULTLINE_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FAULTLINE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

/// The DOM of `page` after its scripts ran, from a fresh profile.
#[allow(clippy::disallowed_methods)] // the browser's time limit is wall-clock time
fn dump_dom(browser: &Path, page: &Path, profile: &Path) -> String {
    let _ = std::fs::remove_dir_all(profile);
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).expect("utf-8 DOM"));
    let start = Instant::now();
    loop {
        if child.try_wait().expect("chromium runs").is_some() {
            break;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium took more than {BROWSER_TIMEOUT:?} on {}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(profile);
    reader.join().expect("reader")
}

/// The value of `name="..."` in the first tag `<tag ...>` of `dom`.
fn attribute<'a>(dom: &'a str, tag: &str, name: &str) -> Option<&'a str> {
    let open = dom.find(&format!("<{tag} "))?;
    let head = &dom[open..open + dom[open..].find('>')?];
    let at = head.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&head[at..at + head[at..].find('"')?])
}

/// Checks the dumped DOM of `source` (the page as the binary wrote it).
fn check_page(label: &str, source: &str, dom: &str) {
    assert!(
        dom.contains("<body"),
        "{label}: no DOM came back:\n{}",
        &dom[..dom.len().min(400)]
    );
    if let Some(errors) = attribute(dom, "html", "data-script-errors") {
        panic!("{label}: script errors: {errors}");
    }
    let body = |name| {
        attribute(dom, "body", name).unwrap_or_else(|| panic!("{label}: <body> has no {name}"))
    };
    assert_eq!(body("data-interactive"), "ready", "{label}");
    // Every time chart set up, and every one with a line answered a hover.
    let charts: Vec<&str> = source
        .split("<svg class=\"ts\"")
        .skip(1)
        .map(|s| &s[..s.find("</svg>").expect("closed svg")])
        .collect();
    assert_eq!(body("data-charts"), charts.len().to_string(), "{label}");
    let with_lines = charts
        .iter()
        .filter(|c| c.contains("stroke-width=\"2\"") || c.contains("<circle"))
        .count();
    assert_eq!(body("data-hovered"), with_lines.to_string(), "{label}");
    assert_eq!(
        dom.matches("data-ready=\"1\"").count(),
        charts.len(),
        "{label}"
    );
    if !charts.is_empty() {
        assert_eq!(body("data-zoom"), "ok", "{label}");
        assert_eq!(body("data-yzoom"), "ok", "{label}");
    }
    let widest: u64 = body("data-widest-table").parse().expect("a width");
    assert!(
        widest <= PAGE_WIDTH_MAX_PX,
        "{label}: a table is {widest} px wide"
    );
    // Every chart present and drawn: one per figure, none failed, none empty.
    assert!(!dom.contains("chart could not be drawn"), "{label}");
    for svg in dom.split("<svg").skip(1) {
        let svg = &svg[..svg.find("</svg>").expect("closed svg")];
        assert!(
            svg.contains("<polyline") || svg.contains("<rect") && svg.contains("<text"),
            "{label}: an empty chart"
        );
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // measures the browser's wall-clock time, for the log
fn every_library_report_and_the_compare_sweep_and_check_pages_run_in_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium (install Debian's chromium to run this test)");
        return;
    };
    let dir = temp_dir("browser");
    let mut pages: Vec<(String, PathBuf)> = Vec::new();
    for path in library_scenarios() {
        let name = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let file = dir.join(format!("{name}.html"));
        std::fs::write(&file, report(&path, 1, "html")).expect("writable temp dir");
        pages.push((name, file));
    }
    let storm = library("metastable-retry-storm.ron");
    let fixed = library("metastable-fixed.ron");
    let compare = ok(&[
        "compare",
        storm.to_str().expect("utf-8"),
        fixed.to_str().expect("utf-8"),
        "--seeds",
        "1..2",
        "--format",
        "html",
    ]);
    let file = dir.join("compare.html");
    std::fs::write(&file, compare).expect("writable temp dir");
    pages.push(("compare".to_owned(), file));
    // A sweep page (a chart per metric against the swept parameter) and a check page.
    let sweep = ok(&[
        "sweep",
        storm.to_str().expect("utf-8"),
        "--seeds",
        "1..2",
        "--set",
        "clients.users.retry.max_attempts=1,4",
        "--format",
        "html",
    ]);
    assert!(sweep.contains("<figure>"), "the sweep page has charts");
    let file = dir.join("sweep.html");
    std::fs::write(&file, sweep).expect("writable temp dir");
    pages.push(("sweep".to_owned(), file));
    // `check` exits 1 here (the storm fails on purpose); the page is what it printed.
    let check = faultline(&[
        "check",
        storm.to_str().expect("utf-8"),
        fixed.to_str().expect("utf-8"),
        "--seeds",
        "1..2",
        "--format",
        "html",
    ]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let file = dir.join("check.html");
    std::fs::write(&file, stdout(&check)).expect("writable temp dir");
    pages.push(("check".to_owned(), file));

    // Two browsers at a time; every page's failure is reported, not only the first.
    let start = Instant::now();
    let failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = pages
            .chunks(pages.len().div_ceil(2))
            .enumerate()
            .map(|(half, chunk)| {
                let (browser, dir) = (&browser, &dir);
                s.spawn(move || {
                    let profile = dir.join(format!("profile-{half}"));
                    let mut failures = Vec::new();
                    for (label, file) in chunk {
                        let source = std::fs::read_to_string(file).expect("written");
                        let dom = dump_dom(browser, file, &profile);
                        let checked = std::panic::catch_unwind(|| check_page(label, &source, &dom));
                        if let Err(e) = checked {
                            let message = e
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            failures.push(format!("{label}: {message}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "{} pages checked in chromium in {:.1} s",
        pages.len(),
        start.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
