//! `faultline validate`: check scenarios without running them, through the library's facade.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::{print_stdout, print_warnings, swarm};

pub(crate) fn validate(paths: &[PathBuf]) -> Result<ExitCode> {
    let mut failed = false;
    for path in paths {
        // A swarm scenario is checked as seed 1 draws it.
        match swarm::Source::read(path, &[], 1).and_then(|s| Ok(s.scenario(1)?.into_owned())) {
            Ok(scenario) => {
                print_warnings(scenario.warnings());
                let (services, clients) = (scenario.services().len(), scenario.clients().len());
                print_stdout(&format!(
                    "{}: ok ({services} service{}, {clients} client{})\n",
                    path.display(),
                    if services == 1 { "" } else { "s" },
                    if clients == 1 { "" } else { "s" },
                ))?;
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
