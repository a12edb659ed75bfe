//! The overnight scenario end to end: 15 tickets, 3 workers, a gate that
//! scores and one that flags a security finding, two escalations and one
//! failure; in the morning the review queue in its documented order,
//! approvals and a rejection, and `land --approved`.

use crate::common::TestEnv;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Queue {
    tasks: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    id: String,
    title: String,
    state: String,
    priority: u8,
    score: Option<f64>,
    security: u64,
    flags: Vec<String>,
    reason: Option<String>,
}

/// t03 and t07 escalate, t05 fails; the rest write `tNN/f`.
const WORKER: &str = r#"d=$(sed -n 's/^- `\(t[0-9]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
case $d in
  t03|t07) git batch escalate --reason "which API version for $d?"; exit 0 ;;
  t05) echo "cannot build $d" >&2; exit 1 ;;
esac
git batch receipt --count ticket --item "$d" "closed $d"
mkdir -p $d && echo $d > $d/f
"#;

/// The score is 50 + the ticket's number; t09 has a secret.
const SCORE: &str =
    r#"score=n=$(ls -d t*/ | head -n 1 | tr -dc 0-9); n=${n#0}; echo "{\"score\": $((50 + n))}""#;
const SECRETS: &str =
    r#"secrets=if [ -d t09 ]; then echo 'AWS key in t09/f'; echo '{"security": 1}'; exit 1; fi"#;

#[test]
fn fifteen_tickets_overnight_then_the_morning_review() {
    let env = TestEnv::new();
    let mut ids = Vec::new();
    for n in 1..=15 {
        let title = format!("t{n:02}");
        let p = ["1", "2", "3"][n % 3];
        ids.push(env.create(&[&title, "--scope", &format!("{title}/**"), "-p", p]));
    }
    let mut plan = vec!["plan", "night"];
    plan.extend(ids.iter().map(String::as_str));
    env.ok(&plan);
    let path = env.dir.path().join("agent.sh");
    std::fs::write(&path, WORKER).unwrap();
    let exec = format!("sh {}", path.display());
    let out = env
        .batch_cmd(&[
            "--json",
            "run",
            "--plan",
            "night",
            "-j",
            "3",
            "--retries",
            "0",
            "--exec",
            &exec,
            "--gate",
            SCORE,
            "--gate",
            SECRETS,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a failure and two escalations");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["done"], 12, "{summary}");

    // The morning: the queue in the documented order.
    let q: Queue = env.json(&["review", "--plan", "night"]);
    let titles: Vec<&str> = q.tasks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles.len(), 15);
    assert_eq!(titles[0], "t09", "security first: {titles:?}");
    assert_eq!(q.tasks[0].security, 1);
    assert!(q.tasks[0].flags.iter().any(|f| f.contains("security")));
    let finished: Vec<&Item> = q.tasks[1..12].iter().collect();
    assert!(finished.iter().all(|t| t.state == "done"), "{titles:?}");
    for w in finished.windows(2) {
        let key = |t: &Item| (t.priority, -(t.score.unwrap() as i64));
        assert!(key(w[0]) <= key(w[1]), "priority then score: {titles:?}");
    }
    let esc: Vec<&str> = q.tasks[12..14].iter().map(|t| t.title.as_str()).collect();
    assert!(esc.contains(&"t03") && esc.contains(&"t07"), "{titles:?}");
    assert!(
        q.tasks[12]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("which API version")),
        "the question waits with its context"
    );
    assert_eq!(q.tasks[14].title, "t05");
    assert_eq!(q.tasks[14].state, "failed");

    // Approve the clean work, reject the one with the secret.
    let secret = q.tasks[0].id.clone();
    env.ok(&["reject", &secret, "--reason", "remove the key"]);
    let clean: Vec<&str> = finished.iter().map(|t| t.id.as_str()).collect();
    let mut approve = vec!["approve"];
    approve.extend(&clean);
    env.ok(&approve);
    let land: serde_json::Value = env.json(&["land", "--no-push", "--approved"]);
    assert_eq!(land["landed"].as_array().unwrap().len(), 11, "{land}");
    for t in &finished {
        let file = format!("main:{}/f", t.title);
        assert_eq!(env.git(&["show", &file]), format!("{}\n", t.title));
    }
    assert!(env.git(&["ls-tree", "main", "t09/"]).is_empty());
    let status: serde_json::Value = env.json(&["status", "--plan", "night"]);
    let plan = &status["plans"][0];
    assert_eq!(plan["closed"], 11, "{plan}");
    assert_eq!(plan["counts"]["ticket"], 12.0, "{plan}");
    assert_eq!(plan["approved"], 11, "{plan}");
    assert_eq!(plan["rejected"], 1, "{plan}");

    // The week's metrics show the batch; the rejected work is not complete.
    let m: serde_json::Value = env.json(&["metrics"]);
    let night = &m["plans"][0];
    assert_eq!(night["name"], "night", "{m}");
    assert_eq!(
        (
            &night["tasks"],
            &night["completed"],
            &night["landed"],
            &night["landings"]
        ),
        (&15.into(), &11.into(), &11.into(), &1.into()),
        "{night}"
    );
    assert_eq!(
        (&night["escalated"], &night["failed"], &night["attempts"]),
        (&2.into(), &1.into(), &15.into()),
        "{night}"
    );
    assert_eq!(night["completion_rate"], 0.733, "{night}");
    assert_eq!(night["escalation_rate"], 0.133, "{night}");
    // The 12 scored (the rejected t09 too): 50 + the mean of their numbers.
    assert_eq!(night["average_score"], 58.8, "{night}");
    assert_eq!(night["failure_rate"], 0.067, "{night}");
    assert!(
        night["median_review_secs"].as_i64().unwrap() >= 0,
        "{night}"
    );
    assert_eq!(m["weeks"][0]["plans"], serde_json::json!(["night"]));

    // The page of the morning's review: its queue is the review's order.
    let q: Queue = env.json(&["review", "--plan", "night"]);
    let page = env.ok(&["review", "--plan", "night", "--html", "-"]);
    let doc = crate::html::parse(&page);
    let queue = &crate::html::all(&doc, "table", "queue")[0];
    let rows: Vec<&str> = queue
        .descendants()
        .filter_map(|n| n.attribute("data-id"))
        .collect();
    let order: Vec<&str> = q.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(rows, order);
    assert_eq!(crate::html::all(&doc, "div", "escalation").len(), 2);
    assert_eq!(crate::html::all(&doc, "div", "failure").len(), 1);
    assert_eq!(crate::html::all(&doc, "div", "lane").len(), 15);
}
