//! `faultline spof`: N-1 analysis. Every service, host, zone and region of a scenario is
//! crashed in turn, alone, for one stated window, over the same seeds; the components are then
//! ranked by the damage they do: the expectations they break, the availability the clients
//! lose, and the services the analysis finds hurt (blast radius). What survives its own crash
//! is not a single point of failure.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use reports::check::Evaluator;
use scenarios::spec::{Fault, Scenario, Target};
use serde_json::{Map, Value, json};
use sim_core::SimDuration;

use crate::runs::{self, RunId, Workers};
use crate::{Seeds, swarm};

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum SpofFormat {
    Text,
    Json,
    Md,
}

pub struct SpofArgs<'a> {
    pub scenario: &'a Path,
    pub seeds: Seeds,
    pub sets: &'a [String],
    pub at: Option<SimDuration>,
    pub down_for: Option<SimDuration>,
    pub keep_faults: bool,
    pub jobs: Option<usize>,
    pub format: SpofFormat,
    pub out: Option<&'a Path>,
}

/// One thing that can be crashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub kind: &'static str,
    pub name: String,
}

impl Component {
    /// A service loses one replica, its first: N-1 for a replicated service, the whole
    /// service for one with a single replica.
    fn target(&self) -> Target {
        match self.kind {
            "service" => Target::Replica {
                service: self.name.clone(),
                index: 0,
            },
            "host" => Target::Host(self.name.clone()),
            "zone" => Target::Zone(self.name.clone()),
            _ => Target::Region(self.name.clone()),
        }
    }
}

/// Every service, then every host, zone and region of the topology, in file order.
pub fn components(scenario: &Scenario) -> Vec<Component> {
    let mut out: Vec<Component> = scenario
        .services
        .iter()
        .map(|s| Component {
            kind: "service",
            name: s.name.clone(),
        })
        .collect();
    if let Some(topology) = &scenario.topology {
        let hosts = topology
            .regions
            .iter()
            .flat_map(|r| &r.zones)
            .flat_map(|z| &z.hosts);
        out.extend(hosts.map(|h| Component {
            kind: "host",
            name: h.clone(),
        }));
        let zones = topology.regions.iter().flat_map(|r| &r.zones);
        out.extend(zones.map(|z| Component {
            kind: "zone",
            name: z.name.clone(),
        }));
        out.extend(topology.regions.iter().map(|r| Component {
            kind: "region",
            name: r.name.clone(),
        }));
    }
    out
}

/// The scenario with `component` crashed at `at` and restarted `down_for` later (and without
/// its own faults unless `keep_faults`).
pub fn crashed(
    scenario: &Scenario,
    component: Option<&Component>,
    at: SimDuration,
    down_for: SimDuration,
    keep_faults: bool,
) -> Scenario {
    let mut s = scenario.clone();
    if !keep_faults {
        s.faults.clear();
    }
    if let Some(c) = component {
        s.faults.push(Fault::Crash {
            target: c.target(),
            at: scenarios::Duration(at),
            restart_after: Some(scenarios::Duration(down_for)),
            cold_start: None,
        });
    }
    s
}

/// What one configuration (the baseline or one component crashed) did over the seeds.
#[derive(Clone, Debug)]
pub struct Damage {
    pub component: Option<Component>,
    /// Per client (file order): ok and requests summed over the seeds.
    pub clients: Vec<(String, u64, u64)>,
    /// The labels of the expectations it breaks.
    pub broken: Vec<String>,
    /// The services the analysis found hurt, over every seed.
    pub blast_radius: Vec<String>,
    /// Runs a limit stopped before their end.
    pub incomplete: usize,
}

impl Damage {
    /// The lowest availability of any client over the seeds (1 without clients or requests).
    pub fn worst_availability(&self) -> f64 {
        self.clients
            .iter()
            .filter(|c| c.2 > 0)
            .map(|c| c.1 as f64 / c.2 as f64)
            .fold(1.0, f64::min)
    }
}

/// How a component's crash is judged.
pub fn verdict(d: &Damage, baseline: &Damage) -> &'static str {
    let new_breaks = d.broken.iter().any(|b| !baseline.broken.contains(b));
    if new_breaks {
        "single point of failure"
    } else if baseline.worst_availability() - d.worst_availability() > 0.001 {
        "degrades"
    } else {
        "survivable"
    }
}

/// The ranking: new broken expectations first, then the availability lost, then file order.
pub fn ranked<'a>(damages: &'a [Damage], baseline: &Damage) -> Vec<&'a Damage> {
    let mut order: Vec<(usize, &Damage)> = damages.iter().enumerate().collect();
    let new_broken = |d: &Damage| {
        d.broken
            .iter()
            .filter(|b| !baseline.broken.contains(b))
            .count()
    };
    order.sort_by(|(i, a), (j, b)| {
        new_broken(b)
            .cmp(&new_broken(a))
            .then(a.worst_availability().total_cmp(&b.worst_availability()))
            .then(i.cmp(j))
    });
    order.into_iter().map(|(_, d)| d).collect()
}

pub fn spof(args: SpofArgs) -> Result<ExitCode> {
    let settings = crate::parse_settings(args.sets)?;
    let source = swarm::Source::read(args.scenario, &settings, args.seeds.first)?;
    if source.is_swarm() {
        bail!(
            "{}: spof crashes components of one concrete scenario; print one with `faultline run \
             {} --seed N --print-scenario` and give spof that file",
            args.scenario.display(),
            args.scenario.display()
        );
    }
    crate::print_warnings(&source.warnings);
    let loaded = source.load(args.seeds.first)?.into_owned();
    let text = source.text();
    let duration = loaded.config.duration;
    let at = args.at.unwrap_or(SimDuration(duration.0 / 4));
    let down_for = args.down_for.unwrap_or(SimDuration(duration.0 / 2));
    if at >= duration {
        bail!("--at {at}: the crash must start before the scenario's end ({duration})");
    }
    if down_for.0 == 0 {
        bail!("--for must be longer than 0s");
    }
    if let Some(out) = args.out {
        crate::refuse_to_overwrite(out, args.scenario)?;
    }
    let target = args
        .out
        .map(|p| crate::files::Target::claim(p, "--out"))
        .transpose()?;
    let comps = components(&loaded.scenario);
    let mut configs = Vec::new();
    for c in std::iter::once(None).chain(comps.iter().map(Some)) {
        let scenario = crashed(&loaded.scenario, c, at, down_for, args.keep_faults);
        let config = scenarios::build(&scenario, text).map_err(|diagnostics| {
            scenarios::ScenarioError::Invalid {
                path: args.scenario.to_owned(),
                diagnostics,
            }
        })?;
        configs.push((c.cloned(), config));
    }
    let seeds: Vec<u64> = (args.seeds.first..=args.seeds.last).collect();
    let items: Vec<(usize, u64)> = (0..configs.len())
        .flat_map(|c| seeds.iter().map(move |&s| (c, s)))
        .collect();
    let workers = Workers::new(args.jobs)?;
    let runs = workers.in_order(&items, |&(c, seed)| {
        let run = RunId {
            scenario: args.scenario.to_owned(),
            seed,
            sets: settings.clone(),
            max_events: None,
        };
        runs::simulate(run, &configs[c].1)
    });
    // Folded in (component, seed) order: the same for any number of threads.
    let mut damages: Vec<Damage> = Vec::new();
    let mut evaluators: Vec<Evaluator> = Vec::new();
    let mut blast: Vec<BTreeSet<String>> = Vec::new();
    for ((c, _), (result, analysis)) in items.iter().zip(runs.flatten()) {
        if damages.len() <= *c {
            damages.push(Damage {
                component: configs[*c].0.clone(),
                clients: result
                    .clients
                    .iter()
                    .map(|cl| (cl.name.clone(), 0, 0))
                    .collect(),
                broken: Vec::new(),
                blast_radius: Vec::new(),
                incomplete: 0,
            });
            evaluators.push(Evaluator::new(&loaded.scenario.expect));
            blast.push(BTreeSet::new());
        }
        let d = &mut damages[*c];
        for (slot, client) in d.clients.iter_mut().zip(&result.clients) {
            slot.1 += client.stats.ok;
            slot.2 += client.stats.requests;
        }
        if !reports::is_complete(&result) {
            d.incomplete += 1;
        }
        blast[*c].extend(analysis.blast_radius.iter().cloned());
        evaluators[*c].add(&result, &analysis);
    }
    for ((d, e), b) in damages.iter_mut().zip(evaluators).zip(blast) {
        d.broken = e
            .finish()
            .into_iter()
            .filter(|r| !r.passed)
            .map(|r| r.label)
            .collect();
        d.blast_radius = b.into_iter().collect();
    }
    let baseline = damages.remove(0);
    let report = Report {
        scenario: &loaded.config.name,
        seeds: args.seeds,
        at,
        down_for,
        keep_faults: args.keep_faults,
        baseline: &baseline,
        ranked: ranked(&damages, &baseline),
    };
    let text = match args.format {
        SpofFormat::Text => report.text(),
        SpofFormat::Json => report.json(),
        SpofFormat::Md => report.markdown(),
    };
    crate::emit(&text, target.as_ref())?;
    Ok(ExitCode::SUCCESS)
}

/// The ranked result, for the three formats.
pub struct Report<'a> {
    pub scenario: &'a str,
    pub seeds: Seeds,
    pub at: SimDuration,
    pub down_for: SimDuration,
    pub keep_faults: bool,
    pub baseline: &'a Damage,
    pub ranked: Vec<&'a Damage>,
}

fn percent(x: f64) -> String {
    format!("{:.3} %", x * 100.0)
}

impl Report<'_> {
    fn headline(&self) -> String {
        format!(
            "spof {}: each component crashed alone at {} for {} (then restarted), seeds {}..{}, \
             {}",
            self.scenario,
            self.at,
            self.down_for,
            self.seeds.first,
            self.seeds.last,
            if self.keep_faults {
                "with the scenario's own faults"
            } else {
                "without the scenario's own faults"
            }
        )
    }

    fn rows(&self) -> Vec<[String; 6]> {
        let base = self.baseline.worst_availability();
        self.ranked
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let c = d.component.as_ref().expect("a component");
                let broken: Vec<&str> = d
                    .broken
                    .iter()
                    .filter(|b| !self.baseline.broken.contains(b))
                    .map(String::as_str)
                    .collect();
                [
                    (i + 1).to_string(),
                    format!("{} {}", c.kind, c.name),
                    verdict(d, self.baseline).to_owned(),
                    {
                        // Points of availability lost (or gained, by chance, with a sign).
                        let lost = (base - d.worst_availability()) * 100.0;
                        let sign = if lost >= 0.0 { '-' } else { '+' };
                        format!(
                            "{} ({sign}{:.3} pp)",
                            percent(d.worst_availability()),
                            lost.abs()
                        )
                    },
                    if broken.is_empty() {
                        "-".into()
                    } else {
                        broken.join("; ")
                    },
                    if d.blast_radius.is_empty() {
                        "-".into()
                    } else {
                        d.blast_radius.join(", ")
                    },
                ]
            })
            .collect()
    }

    const HEADER: [&'static str; 6] = [
        "rank",
        "component",
        "verdict",
        "worst client availability",
        "expectations broken",
        "blast radius",
    ];

    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.headline());
        let _ = writeln!(
            out,
            "baseline (nothing crashed): worst client availability {}{}",
            percent(self.baseline.worst_availability()),
            if self.baseline.broken.is_empty() {
                String::new()
            } else {
                format!("; already broken: {}", self.baseline.broken.join("; "))
            }
        );
        let rows = self.rows();
        let mut widths = Self::HEADER.map(str::len);
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut line = |cells: Vec<&str>| {
            let mut l = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(cell);
                } else {
                    let _ = write!(l, "{cell:<w$}  ");
                }
            }
            let _ = writeln!(out, "{}", l.trim_end());
        };
        line(Self::HEADER.to_vec());
        for r in &rows {
            line(r.iter().map(String::as_str).collect());
        }
        let spofs = self
            .ranked
            .iter()
            .filter(|d| verdict(d, self.baseline) == "single point of failure")
            .count();
        let survivable = self
            .ranked
            .iter()
            .filter(|d| verdict(d, self.baseline) == "survivable")
            .count();
        let _ = writeln!(
            out,
            "{spofs} single points of failure, {survivable} of {} components survivable",
            self.ranked.len()
        );
        let incomplete: usize =
            self.ranked.iter().map(|d| d.incomplete).sum::<usize>() + self.baseline.incomplete;
        if incomplete > 0 {
            let _ = writeln!(
                out,
                "warning: {incomplete} runs stopped at a limit before their end; their figures \
                 are partial"
            );
        }
        out
    }

    pub fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = format!("### {}\n\n", esc(&self.headline()));
        let _ = writeln!(
            out,
            "Baseline (nothing crashed): worst client availability {}.\n",
            percent(self.baseline.worst_availability())
        );
        let _ = writeln!(out, "| {} |", Self::HEADER.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(Self::HEADER.len()));
        for r in self.rows() {
            let cells: Vec<String> = r.iter().map(|c| esc(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    pub fn json(&self) -> String {
        let damage = |d: &Damage| {
            let mut m = Map::new();
            if let Some(c) = &d.component {
                m.insert("kind".into(), json!(c.kind));
                m.insert("name".into(), json!(c.name));
                m.insert("verdict".into(), json!(verdict(d, self.baseline)));
            }
            let clients: Map<String, Value> = d
                .clients
                .iter()
                .map(|(n, ok, req)| {
                    let a = if *req == 0 {
                        1.0
                    } else {
                        *ok as f64 / *req as f64
                    };
                    (
                        n.clone(),
                        json!({"ok": ok, "requests": req, "availability": round(a)}),
                    )
                })
                .collect();
            m.insert("clients".into(), Value::Object(clients));
            m.insert(
                "worst_availability".into(),
                json!(round(d.worst_availability())),
            );
            m.insert("expectations_broken".into(), json!(d.broken));
            m.insert("blast_radius".into(), json!(d.blast_radius));
            m.insert("incomplete_runs".into(), json!(d.incomplete));
            Value::Object(m)
        };
        let doc = json!({
            "scenario": self.scenario,
            "seeds": [self.seeds.first, self.seeds.last],
            "crash": {"at_s": self.at.as_secs_f64(), "for_s": self.down_for.as_secs_f64()},
            "keep_faults": self.keep_faults,
            "baseline": damage(self.baseline),
            "ranked": self.ranked.iter().map(|d| damage(d)).collect::<Vec<_>>(),
        });
        let mut text = serde_json::to_string_pretty(&doc).expect("a JSON value");
        text.push('\n');
        text
    }
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn damage(name: &str, ok: u64, broken: &[&str]) -> Damage {
        Damage {
            component: Some(Component {
                kind: "service",
                name: name.into(),
            }),
            clients: vec![("c".into(), ok, 100)],
            broken: broken.iter().map(|s| s.to_string()).collect(),
            blast_radius: Vec::new(),
            incomplete: 0,
        }
    }

    #[test]
    fn new_broken_expectations_rank_first_then_lost_availability() {
        let baseline = Damage {
            component: None,
            ..damage("x", 100, &["old"])
        };
        let ds = vec![
            damage("a", 99, &[]),
            damage("b", 50, &["old"]),
            damage("c", 90, &["new"]),
            damage("d", 100, &[]),
        ];
        let order: Vec<&str> = ranked(&ds, &baseline)
            .iter()
            .map(|d| d.component.as_ref().unwrap().name.as_str())
            .collect();
        assert_eq!(order, ["c", "b", "a", "d"]);
        assert_eq!(verdict(&ds[2], &baseline), "single point of failure");
        assert_eq!(verdict(&ds[1], &baseline), "degrades");
        assert_eq!(verdict(&ds[3], &baseline), "survivable");
    }
}
