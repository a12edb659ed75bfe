//! The HTML dashboard: `review --html` and `status --html` of a real run
//! (scores, a security finding, an escalation, a failure), parsed as XML
//! and checked for its structure and for escaping.

use crate::common::TestEnv;
use roxmltree::{Document, Node, ParsingOptions};

/// The tasks of [`batch`], by what they do.
pub struct Batch {
    pub parser: String,
    pub net: String,
    pub keys: String,
    pub xss: String,
    pub vendor: String,
    pub cache: String,
}

pub const XSS_TITLE: &str = "<script>alert('x')</script> & \"quotes\"";

/// Writes `<dir>/mod.rs` for the task whose scope is `<dir>/**`, with a
/// counted receipt line; `vendor` escalates, `cache` fails.
const WORKER: &str = r#"d=$(sed -n 's/^- `\([a-z]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
mkdir -p "$d"
case $d in
  vendor)
    git batch receipt "vendored files have no licence header"
    git batch escalate --reason "MIT or Apache-2.0 <header> for vendor/?"
    exit 0 ;;
  cache)
    echo "migrating the cache" >&2
    echo "error: cannot convert row 17" >&2
    exit 1 ;;
esac
echo "line 1 of $d" > "$d/mod.rs"
git batch receipt --count processed --item "$d/mod.rs" "ported $d/mod.rs <b>"
"#;

/// Scores the work by its directory; flags `keys/`.
const SCORE: &str = r#"case $(ls -d */ | head -n 1) in parser/) s=92 ;; net/) s=78 ;; *) s=64 ;; esac
echo "<i>checked</i>"; echo "{\"score\": $s}""#;
const SECRETS: &str =
    r#"if [ -d keys ]; then echo 'private key'; echo '{"security": 1}'; exit 1; fi"#;

fn script(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    format!("sh {}", path.display())
}

/// Plan `nightly` of six tasks, run with three workers and two gates; the
/// parser's work approved.
pub fn batch(env: &TestEnv) -> Batch {
    let create = |title: &str, dir: &str, p: &str| {
        env.create(&[title, "--scope", &format!("{dir}/**"), "-p", p])
    };
    let b = Batch {
        parser: create("Port the parser", "parser", "1"),
        net: create("Move logging in net", "net", "2"),
        keys: create("Rotate the signing key", "keys", "2"),
        xss: create(XSS_TITLE, "xss", "3"),
        vendor: create("Choose the licence header", "vendor", "1"),
        cache: create("Migrate the cache", "cache", "1"),
    };
    let ids = [&b.parser, &b.net, &b.keys, &b.xss, &b.vendor, &b.cache];
    let mut plan = vec!["plan", "nightly"];
    plan.extend(ids.iter().map(|s| s.as_str()));
    env.ok(&plan);
    let exec = script(env, "worker.sh", WORKER);
    let score = format!("score={}", script(env, "score.sh", SCORE));
    let secrets = format!("secrets={}", script(env, "secrets.sh", SECRETS));
    let out = env.run(&[
        "run",
        "--plan",
        "nightly",
        "-j",
        "3",
        "--retries",
        "0",
        "--exec",
        &exec,
        "--gate",
        &score,
        "--gate",
        &secrets,
    ]);
    assert_eq!(out.status.code(), Some(1), "one failed, one escalated");
    env.ok(&["answer", &b.vendor, "Apache-2.0 & <MIT>"]);
    env.ok(&["approve", &b.parser]);
    b
}

pub fn parse(page: &str) -> Document<'_> {
    let options = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(page, options).unwrap_or_else(|e| panic!("{e}\n{page}"))
}

pub fn has_class(n: &Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split(' ').any(|x| x == class))
}

pub fn all<'a, 'i>(doc: &'a Document<'i>, tag: &str, class: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.has_tag_name(tag) && has_class(n, class))
        .collect()
}

pub fn text(n: &Node) -> String {
    n.descendants().filter_map(|d| d.text()).collect()
}

#[test]
fn the_review_page_has_the_queue_escalations_failures_timeline_and_diffs() {
    let env = TestEnv::new();
    let b = batch(&env);
    let file = env.dir.path().join("out/review.html");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    env.ok(&[
        "review",
        "--plan",
        "nightly",
        "--html",
        file.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(&file).unwrap();
    let doc = parse(&page);

    // The queue: one row per task, in review order (security, then done
    // work by priority, then escalations, then the rest).
    let queue = &all(&doc, "table", "queue")[0];
    let rows: Vec<&str> = queue
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .filter_map(|n| n.attribute("data-id"))
        .collect();
    assert_eq!(
        rows,
        [&b.keys, &b.parser, &b.net, &b.xss, &b.vendor, &b.cache]
    );
    let first = queue
        .descendants()
        .find(|n| n.attribute("data-id") == Some(b.keys.as_str()))
        .unwrap();
    assert!(
        text(&first).contains("1 security finding(s)"),
        "{}",
        text(&first)
    );
    let parser = queue
        .descendants()
        .find(|n| n.attribute("data-id") == Some(b.parser.as_str()))
        .unwrap();
    assert!(text(&parser).contains("92") && text(&parser).contains("approved"));

    // The escalation with its question and the answer, escaped.
    let esc = &all(&doc, "div", "escalation")[0];
    assert_eq!(esc.attribute("data-id"), Some(b.vendor.as_str()));
    assert!(text(esc).contains("MIT or Apache-2.0 <header> for vendor/?"));
    assert!(text(esc).contains("Apache-2.0 & <MIT>"));
    // The failure with its reason and its log's tail.
    let fail = &all(&doc, "div", "failure")[0];
    assert_eq!(fail.attribute("data-id"), Some(b.cache.as_str()));
    assert!(
        text(fail).contains("error: cannot convert row 17"),
        "{}",
        text(fail)
    );
    assert!(text(&all(&doc, "details", "log")[0]).contains("migrating the cache"));
    // A lane per task, each with its attempt.
    let lanes = all(&doc, "div", "lane");
    assert_eq!(lanes.len(), 6);
    for lane in &lanes {
        assert_eq!(
            lane.descendants().filter(|n| has_class(n, "bar")).count(),
            1,
            "{lane:?}"
        );
    }
    // Every task collapsible, with its gates, receipt and diff.
    let tasks = all(&doc, "details", "task");
    assert_eq!(tasks.len(), 6);
    let net = tasks
        .iter()
        .find(|t| t.attribute("id") == Some(format!("task-{}", b.net).as_str()))
        .unwrap();
    assert!(text(net).contains("ported net/mod.rs <b>"));
    assert!(text(net).contains("<i>checked</i>"), "the gate's tail");
    let diff = net
        .descendants()
        .find(|n| n.has_tag_name("pre") && has_class(n, "diff"))
        .unwrap();
    assert!(text(&diff).contains("+line 1 of net"), "{}", text(&diff));

    // Task text is escaped: the title is text, not markup.
    let xss = queue
        .descendants()
        .find(|n| n.attribute("data-id") == Some(b.xss.as_str()))
        .unwrap();
    assert!(text(&xss).contains(XSS_TITLE));
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("mod.rs <b>") && !page.contains("<i>checked"));
    let scripts = doc.descendants().filter(|n| n.has_tag_name("script"));
    assert_eq!(scripts.count(), 1, "only the page's own print helper");
    // Self-contained: nothing fetched from the network.
    for n in doc.descendants().filter(|n| n.is_element()) {
        assert!(!n.has_tag_name("link") && !n.has_tag_name("img"), "{n:?}");
        for attr in ["src", "href"] {
            if let Some(v) = n.attribute(attr) {
                assert!(v.starts_with('#'), "{attr}={v}");
            }
        }
    }
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(page.contains("@media print"));
}

#[test]
fn the_status_page_goes_to_stdout_with_a_dash() {
    let env = TestEnv::new();
    let b = batch(&env);
    let page = env.ok(&["status", "--html", "-"]);
    let doc = parse(&page);
    let sections = all(&doc, "section", "batch");
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0].attribute("id"), Some("plan-nightly"));
    assert_eq!(all(&doc, "div", "lane").len(), 6);
    assert!(text(&all(&doc, "div", "escalation")[0]).contains("vendor/?"));
    assert!(text(&all(&doc, "table", "queue")[0]).contains(&b.cache));
    // To a file, the text dashboard is printed as well; a directory that
    // is not there is a clear error and writes nothing.
    let out = env.ok(&["status", "--html", "page.html"]);
    assert!(out.contains("plan nightly"), "{out}");
    assert!(env.repo.join("page.html").exists());
    let err = env.fails(&["status", "--html", "no/such/dir/page.html"], 1);
    assert!(err.contains("no/such/dir/page.html"), "{err}");
    let err = env.fails(&["status", "--html", "x.html", "--watch"], 2);
    assert!(err.contains("--watch"), "{err}");
    // The review of a range: one worker's branch.
    let range = format!("main..batch/{}", b.net);
    let page = env.ok(&["review", &range, "--html", "-"]);
    let doc = parse(&page);
    let rows: Vec<&str> = all(&doc, "table", "queue")[0]
        .descendants()
        .filter_map(|n| n.attribute("data-id"))
        .collect();
    assert_eq!(rows, [b.net.as_str()]);
    assert!(text(&all(&doc, "details", "task")[0]).contains("+line 1 of net"));
}
