//! Prints the health and cascade analysis of a scenario: `cargo run -p faultline-reports --example
//! analyse -- scenarios/library/checkout.ron 1`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::Path::new(&args[1]);
    let seed = args.get(2).map_or(1, |s| s.parse().expect("a seed"));
    let loaded = match scenarios::load(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let result = models::World::new(&loaded.config, seed).run(models::RunOptions::default());
    println!("{:#?}", reports::analyse(&result));
}
