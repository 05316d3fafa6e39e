//! The run page and the compare page: well-formed, self-contained, deterministic, readable.

use std::path::Path;

use models::config::{
    Arrivals, CallConfig, CallPolicy, ClientConfig, Execution, Fault, NetworkConfig, Objective,
    ServiceConfig, ServiceId, WorldConfig,
};
use models::{RunOptions, World};
use sim_core::{Distribution, SimDuration, SimTime};

use super::*;
use crate::analysis::analyse;

fn service(name: &str, workers: u32, mean_ms: u64, calls: Vec<CallConfig>) -> ServiceConfig {
    ServiceConfig {
        name: name.into(),
        workers,
        queue: 32,
        service_time: Distribution::exponential(SimDuration::from_millis(mean_ms))
            .expect("valid mean"),
        error_rate: 0.0,
        execution: Execution::Async,
        calls,
        objective: Objective::default(),
        kind: models::config::ServiceKind::Worker,
        idempotent: true,
        idempotency_keys: false,
        propagate_deadline: false,
        abandonment: models::config::Abandonment::AtDequeue,
        backpressure: false,
        inbound: Default::default(),
        replicas: vec![0],
        lb: models::lb::LbPolicy::RoundRobin,
        health: Default::default(),
        endpoint_name: "default".into(),
        endpoints: Vec::new(),
        max_throughput_per_s: None,
    }
}

fn call(to: u32) -> CallConfig {
    CallConfig {
        to: ServiceId(to),
        endpoint: 0,
        probability: 1.0,
        group: None,
        publish: None,
        policy: CallPolicy {
            timeout: Some(sim_core::Distribution::Constant(SimDuration::from_millis(
                500,
            ))),
            ..CallPolicy::default()
        },
    }
}

/// `n` services in a chain `s0 -> s1 -> ...` that release their workers while they wait,
/// a client on `s0`, the last one slowed down 100 times (it saturates) from 4 s to 8 s of
/// 16 s.
fn chain(n: u32) -> WorldConfig {
    let services = (0..n)
        .map(|i| {
            let calls = if i + 1 < n { vec![call(i + 1)] } else { vec![] };
            service(&format!("svc-{i:02}"), 16, 2, calls)
        })
        .collect();
    WorldConfig {
        name: format!("chain-{n}"),
        duration: SimDuration::from_secs(16),
        services,
        clients: vec![ClientConfig {
            name: "users & <friends>".into(),
            host: 0,
            requests: Vec::new(),
            profile: Vec::new(),
            to: ServiceId(0),
            arrivals: Arrivals::Poisson { rate_per_s: 100.0 },
            policy: CallPolicy::default(),
            objective: Objective::default(),
        }],
        network: NetworkConfig {
            latency: Distribution::Constant(SimDuration::from_micros(500)),
            ..NetworkConfig::default()
        },
        faults: vec![Fault::Latency {
            service: ServiceId(n - 1),
            endpoint: None,
            multiply: 100.0,
            add: SimDuration::ZERO,
            from: SimTime(4_000_000_000),
            to: SimTime(8_000_000_000),
        }],
        window: SimDuration::SECOND,
        max_events: u64::MAX,
        memory_limit_bytes: u64::MAX,
        topology: Default::default(),
        clocks: Vec::new(),
        ops: Default::default(),
        stores: Vec::new(),
        brokers: Default::default(),
        sagas: Vec::new(),
        two_phase: Vec::new(),
    }
}

fn render_page(config: &WorldConfig) -> String {
    let result = World::new(config, 1).run(RunOptions::default());
    html(&result, &analyse(&result))
}

/// Writes `page` to the path in FAULTLINE_WRITE_HTML, with `suffix` before `.html`, to
/// look at it in a browser.
fn maybe_write(page: &str, suffix: &str) {
    if let Ok(path) = std::env::var("FAULTLINE_WRITE_HTML") {
        let path = match path.strip_suffix(".html") {
            Some(stem) if !suffix.is_empty() => format!("{stem}-{suffix}.html"),
            _ => path,
        };
        std::fs::write(&path, page).expect("writable FAULTLINE_WRITE_HTML path");
        eprintln!("wrote {path} ({} bytes)", page.len());
    }
}

fn count(page: &str, s: &str) -> usize {
    page.matches(s).count()
}

fn check_well_formed(page: &str) {
    for tag in [
        "html",
        "head",
        "body",
        "figure",
        "svg",
        "table",
        "ul",
        "figcaption",
    ] {
        let open = count(page, &format!("<{tag}>")) + count(page, &format!("<{tag} "));
        let close = count(page, &format!("</{tag}>"));
        assert_eq!(
            open, close,
            "<{tag}> opened {open} times, closed {close} times"
        );
    }
    for tag in ["html", "head", "body"] {
        assert_eq!(count(page, &format!("</{tag}>")), 1, "{tag}");
    }
    let namespace = "http://www.w3.org/2000/svg";
    let svgs = count(page, "<svg");
    // Availability, latency, queue depth, busy workers, timeline at least; the traffic
    // charts come with clients and edges.
    assert!(svgs >= 5, "{svgs} charts");
    for figure in page.split("<figure").skip(1) {
        let figure = &figure[..figure.find("</figure>").expect("closed figure")];
        assert!(figure.matches("<svg").count() <= 1, "one chart per figure");
    }
    assert_eq!(count(page, namespace), svgs);
    let rest = page.replace(namespace, "");
    assert!(!rest.contains("http://") && !rest.contains("https://"));
    // One inline script, nothing loaded.
    assert_eq!(count(page, "<script>"), 1);
    assert_eq!(count(page, "<script"), 1);
    assert!(!page.contains(" src="));
    // Every text at least 12 px: plotters writes `font-size="N"`, the CSS `font-size:N`.
    for size in page.split("font-size=\"").skip(1) {
        let px: f64 = size[..size.find('"').expect("closed")]
            .parse()
            .expect("a size");
        assert!(px >= 11.99, "font-size {px}");
    }
    for size in page.split("font-size:").skip(1) {
        let value = &size[..size.find([';', '}']).expect("ends")];
        if let Some(px) = value.strip_suffix("px") {
            assert!(px.parse::<f64>().expect("px") >= 12.0, "font-size {value}");
        } else if let Some(em) = value.strip_suffix("em") {
            assert!(
                em.parse::<f64>().expect("em") * 16.0 >= 12.0,
                "font-size {value}"
            );
        }
    }
    assert!(page.ends_with("</script>\n</body>\n</html>\n"));
}

#[test]
fn html_page_is_self_contained_and_deterministic() {
    let config = chain(3);
    let result = World::new(&config, 1).run(RunOptions::default());
    let analysis = analyse(&result);
    let page = html(&result, &analysis);
    maybe_write(&page, "chain");
    check_well_formed(&page);
    assert!(page.contains("<title>faultline · chain-3 · seed 1</title>"));
    assert!(page.contains("svc-02 latency x100 at 4.0 s"), "the fault");
    assert!(
        page.contains(" → svc-02 "),
        "the cascade starts at the faulted service"
    );
    assert!(page.contains("No circuit breakers are configured in this scenario."));
    assert!(page.contains("users &amp; &lt;friends&gt;"));
    assert!(!page.contains("users & <friends>"));
    assert!(!page.contains("Warning"));
    assert_eq!(page, html(&result, &analysis));
}

#[test]
fn html_page_stays_readable_with_30_services() {
    let page = render_page(&chain(30));
    maybe_write(&page, "30");
    check_well_formed(&page);
    for i in 0..30 {
        let name = format!("svc-{i:02}");
        // Once in the summary, in the five legends (availability, latency, queue, busy,
        // amplification), as a timeline row and in the objectives.
        assert_eq!(count(&page, &format!("</span>{name}</td>")), 1, "{name}");
        assert_eq!(count(&page, &format!("</span>{name} <span")), 5, "{name}");
        assert_eq!(count(&page, &format!("\n{name}\n</text>")), 1, "{name}");
        assert_eq!(count(&page, &format!("<tr><td>{name}</td>")), 1, "{name}");
    }
    assert!(page.contains("Call edges are left out"));
}

#[test]
fn html_page_of_an_empty_or_partial_run_does_not_panic() {
    let mut config = chain(2);
    config.max_events = 50;
    let page = render_page(&config);
    check_well_formed(&page);
    assert!(page.contains("stopped at the event limit (50 events)"));

    let mut config = chain(1);
    config.clients.clear();
    config.faults.clear();
    config.duration = SimDuration::ZERO;
    let page = render_page(&config);
    check_well_formed(&page);
    maybe_write(&page, "empty");
    assert!(page.contains("No faults were scripted"));
    assert!(page.contains("no data"));
}

#[test]
fn html_page_merges_windows_of_long_runs_and_numbers_faults() {
    let mut config = chain(3);
    // 1600 windows: two per point.
    config.window = SimDuration::from_millis(10);
    config.faults.push(Fault::Latency {
        service: ServiceId(1),
        endpoint: None,
        multiply: 50.0,
        add: SimDuration::ZERO,
        from: SimTime(10_000_000_000),
        to: SimTime(12_000_000_000),
    });
    let page = render_page(&config);
    maybe_write(&page, "two-faults");
    check_well_formed(&page);
    assert!(page.contains("Each point is the availability over 2 consecutive windows of 10ms."));
    assert!(page.contains("<strong>Fault 1:</strong> svc-02 latency x100 at 4.0 s"));
    assert!(page.contains("<strong>Fault 2:</strong> svc-01 latency x50 at 10.0 s"));
    assert!(page.contains(">\nfault 2\n</text>"));
}

#[test]
fn html_page_of_the_checkout_scenario() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/library/checkout.ron"
    ));
    let config = scenarios::load(path).expect("checkout.ron loads").config;
    let page = render_page(&config);
    maybe_write(&page, "");
    check_well_formed(&page);
    assert!(page.contains("payments latency x10 at 120.0 s → payments "));
    assert!(page.len() < 1_500_000, "page weight {}", page.len());
}
