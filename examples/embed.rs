//! Embedding kpiblend in a host program: load definitions, bind data the host already
//! has, evaluate, and read the results as plain values.
//!
//! Run with `cargo run --example embed`.

use kpiblend::Project;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Definitions can come from a file (`Project::from_file`) or, as here, a string.
    let mut project = Project::from_source(
        "service.kpi",
        r#"
        dataset calls = csv("calls.csv")
        dim site = calls.site
        kpi handled = count(calls where not calls.abandoned)
        kpi aht "Average handle time" = avg(calls.talk_s where not calls.abandoned)
            unit seconds  target <= 5m
        kpi fcr = rate(calls.resolved where not calls.abandoned)  target >= 75%
        blend aht with fcr guard fcr >= 60%
        "#,
    );

    // Data the host already holds, as CSV text (a file path, or `bind_table` with columns
    // built in memory, work too).
    let csv = "site,talk_s,abandoned,resolved\n\
               north,240,false,true\n\
               north,360,false,false\n\
               south,200,false,true\n\
               south,,true,\n";
    project.bind_csv("calls", csv.as_bytes())?;

    // Diagnostics are data: a host can show them, log them, or refuse to go on.
    let checked = project.check();
    assert!(!checked.has_errors());

    // A scorecard: every KPI and blend, ungrouped.
    let report = project.scorecard()?;
    // What evaluation noticed without failing (link keys with no row, negative durations)
    // renders like `kpiblend eval` prints it.
    eprint!("{}", report.warnings);
    println!("aht = {:?} s", report.kpi_value("aht", &[]));
    println!("aht_with_fcr score = {:?}", report.kpi_value("aht_with_fcr", &[]));

    // Grouped, with a filter; the report serialises to the documented JSON schema.
    let by_site =
        project.query(&["aht", "fcr", "aht_with_fcr"], &["site"], Some("calls.talk_s > 0"))?;
    println!("{}", serde_json::to_string_pretty(&by_site)?);

    // Errors carry their locations and render like `kpiblend check`.
    if let Err(e) = project.query(&["ahtt"], &[], None) {
        eprint!("{e}");
    }
    Ok(())
}
