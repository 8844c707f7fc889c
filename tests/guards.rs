//! Resource guards (`max_groups`, `max_values`): when one trips the search still finishes,
//! the inspector says what was cut and how to raise the limit, and no event is lost: the sum
//! of `Requests` over all rows equals the number of qualifying events.

mod common;
use common::*;

/// `n` qualifying events spread over `groups` (src_ip, user) pairs, `paths` distinct paths.
fn events(n: usize, groups: usize, paths: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let g = i % groups;
            format!(
                "10.{}.{}.{},user{g},api.openai.com,POST,/v1/chat/completions/{},curl/8.0,{}",
                g / 65536,
                (g / 256) % 256,
                g % 256,
                i % paths,
                i % 7
            )
        })
        .collect()
}

const HEADER: &str = "src_ip,user,dest_host,http_method,uri_path,http_user_agent,bytes_out";

fn run(args: &[&str], rows: &[String], chunk: usize) -> (Vec<Vec<String>>, Vec<String>, String) {
    let mut input = getinfo(args);
    let chunks: Vec<&[String]> = rows.chunks(chunk).collect();
    for (i, c) in chunks.iter().enumerate() {
        input.extend(execute(
            i + 1 == chunks.len(),
            &format!("{HEADER}\n{}\n", c.join("\n")),
        ));
    }
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let (header, table) = final_table(&run.stdout);
    let last = split_replies(&run.stdout).pop().unwrap().0;
    (table, header, last)
}

fn sum(table: &[Vec<String>], header: &[String], column: &str) -> u64 {
    let i = header.iter().position(|h| h == column).unwrap();
    table.iter().map(|r| r[i].parse::<u64>().unwrap()).sum()
}

#[test]
fn max_groups_keeps_every_event_counted_in_an_overflow_row() {
    let rows = events(5000, 300, 3);
    for profile in [
        &["profile=seed", "limit=0"][..],
        &["limit=0", "min_risk=0"][..],
    ] {
        let mut args = profile.to_vec();
        args.push("max_groups=100");
        let (table, header, meta) = run(&args, &rows, 700);
        assert_eq!(sum(&table, &header, "Requests"), 5000, "{profile:?}");
        assert_eq!(
            table.len(),
            101,
            "100 groups and the overflow row ({profile:?})"
        );
        let overflow = table
            .iter()
            .find(|r| r[0] == "(over max_groups)")
            .expect("overflow row");
        assert_eq!(overflow[1], "(over max_groups)");
        // The standard overflow row collects the sources of every key past the cap, 200 of
        // them (the seed search's UniqueSourceIPs is 1 by definition).
        if !profile.contains(&"profile=seed") {
            let i = header.iter().position(|h| h == "UniqueSourceIPs").unwrap();
            assert_eq!(overflow[i], "200", "{profile:?}");
        }
        assert!(meta.contains("max_groups=100 reached"), "{meta}");
        assert!(meta.contains("raise max_groups="), "{meta}");
        assert!(meta.contains(r#"["WARN""#), "{meta}");
        // Without the guard: 300 groups, the same total, no warning.
        let (table, header, meta) = run(profile, &rows, 700);
        assert_eq!(table.len(), 300);
        assert_eq!(sum(&table, &header, "Requests"), 5000);
        assert!(!meta.contains("max_groups"), "{meta}");
    }
}

#[test]
fn max_values_caps_multivalue_columns_but_not_counts() {
    let rows = events(400, 2, 50);
    let (table, header, meta) = run(&["profile=seed", "max_values=5"], &rows, 100);
    assert_eq!(sum(&table, &header, "Requests"), 400);
    let paths = header.iter().position(|h| h == "EndpointPaths").unwrap();
    for r in &table {
        assert_eq!(r[paths].lines().count(), 5, "{r:?}");
    }
    // Each group saw 25 distinct paths, 8 events each; 5 are listed, the 20 others' 160
    // events per group are not.
    assert!(
        meta.contains("max_values=5 reached: 320 event values were not listed"),
        "{meta}"
    );
}

#[test]
fn guards_hold_across_map_and_reduce() {
    let rows = events(3000, 200, 2);
    // Map on two "indexers", then reduce, with the guard on both sides.
    let mut partials = Vec::new();
    for half in rows.chunks(1500) {
        let mut input = getinfo(&["phase=map", "max_groups=50"]);
        input.extend(execute(true, &format!("{HEADER}\n{}\n", half.join("\n"))));
        let r = run_binary(&[], &input, GENEROUS);
        let (_, t) = final_table(&r.stdout);
        partials.extend(t);
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(["aidetect_partial", "aidetect_state"])
        .unwrap();
    for p in &partials {
        w.write_record(p).unwrap();
    }
    let mut input = getinfo(&["distributed=true", "max_groups=50", "limit=0", "min_risk=0"]);
    input.extend(execute(
        true,
        &String::from_utf8(w.into_inner().unwrap()).unwrap(),
    ));
    let r = run_binary(&[], &input, GENEROUS);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let (header, table) = final_table(&r.stdout);
    assert_eq!(sum(&table, &header, "Requests"), 3000);
    assert!(
        split_replies(&r.stdout)
            .pop()
            .unwrap()
            .0
            .contains("max_groups=50 reached")
    );
}
