//! `cargo bench --bench scenarios -- <S1..S5> <N>`: one scenario of DESIGN §8 in a fresh
//! process, printed as one JSON line. Exits non-zero if the scenario's own check fails.
//! S6 (S1 with SQLite history) needs `--features sqlite`.

#[path = "scenarios/cases.rs"]
mod cases;

fn main() {
    // `cargo bench` passes `--bench`; the scenario and N are the other arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (Some(name), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!(
            "usage: cargo bench [--features sqlite] --bench scenarios -- <S1|S2|S3|S4|S5|S6> <N>"
        );
        std::process::exit(2);
    };
    let system = actix_rt::System::new();
    match system.block_on(cases::run(name, n)) {
        Ok(figures) => println!("{}", figures.json()),
        Err(problem) => {
            eprintln!("{problem}");
            std::process::exit(1);
        }
    }
}
