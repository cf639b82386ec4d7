//! Every bench scenario at a CI-sized N, so the benches never rot. No timing is asserted.

#[path = "../benches/scenarios/cases.rs"]
mod cases;

#[actix_rt::test]
async fn bench_scenarios_run_and_check_themselves() {
    for (scenario, n) in [
        ("S1", 2_000),
        ("S2", 2_000),
        ("S3", 2_000),
        ("S4", 3),
        ("S5", 500),
    ] {
        let figures = cases::run(scenario, n)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(figures
            .json()
            .starts_with(&format!("{{\"scenario\":\"{scenario}\"")));
    }
    assert!(
        cases::run("S9", 1).await.is_err(),
        "an unknown scenario is an error"
    );
}
