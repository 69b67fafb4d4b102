//! `kpath diagram`: the Mermaid sequence diagram's shape, and the SVG drawn by a real
//! browser (Debian's Chromium, which .ci/run installs).

mod common;

use common::{kpath, scenario_path};

fn diagram(scenario: &str, sel: &[&str], format: &str) -> String {
    let path = scenario_path(scenario);
    let out = kpath()
        .args(["diagram", &path.to_string_lossy()])
        .args(sel)
        .args(["--format", format])
        .output()
        .expect("run kpath");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_sequence_diagram_follows_the_packet_through_namespaces_nat_and_the_tunnel() {
    let m = diagram("pod-to-clusterip-cross-node", &["-p", "syn"], "mermaid");
    let lines: Vec<&str> = m.lines().map(str::trim).collect();
    assert_eq!(lines[0], "sequenceDiagram");
    // The namespaces in the order the SYN reaches them.
    let participants: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("participant "))
        .collect();
    assert_eq!(
        participants,
        [
            "p0 as default/client",
            "p1 as node-1",
            "p2 as underlay",
            "p3 as node-3",
            "p4 as default/downloader-c"
        ]
    );
    let at = |want: &str| {
        lines
            .iter()
            .position(|l| l.contains(want))
            .unwrap_or_else(|| panic!("no {want:?} in:\n{m}"))
    };
    // Causes in order: the DNAT rule, its translation, the tunnel, the delivery.
    assert!(at("p0->>p1: veth_xmit eth0 -> cni0") < at("dnat to 10.244.2.5:3000"));
    assert!(
        at("dnat to 10.244.2.5:3000") < at("DNAT: destination 10.96.100.1:80 -> 10.244.2.5:3000")
    );
    // The underlay hops, and only they, are inside the highlighted VXLAN region.
    let open = at("rect rgb(");
    let close = open + lines[open..].iter().position(|l| *l == "end").unwrap();
    for (i, l) in lines.iter().enumerate() {
        if l.contains("->>") {
            assert_eq!(
                l.contains("in VXLAN vni 1"),
                (open..close).contains(&i),
                "{l}"
            );
        }
    }
    assert!(at("Note over p4: DELIVERED") > close);
    // `#` and `;` end Mermaid statements: they are written as entity codes.
    assert!(m.contains("KUBE-SEP-Q5D6H6FAVFGOXNCE #35;2"), "{m}");
    for l in &lines {
        let body = l.split_once(": ").map_or("", |(_, b)| b);
        assert!(
            !body
                .replace("#35;", "")
                .replace("#59;", "")
                .contains(['#', ';']),
            "{l}"
        );
    }
}

#[test]
fn every_shipped_packet_draws_a_well_formed_sequence_diagram() {
    for entry in std::fs::read_dir(scenario_path("x").parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let s = kpath_sim::load_scenario(&path).unwrap();
        let sels: Vec<[String; 2]> = s
            .packets
            .iter()
            .map(|p| ["-p".into(), p.name.value.clone()])
            .chain(
                s.flows
                    .iter()
                    .map(|f| ["--flow".into(), f.name.value.clone()]),
            )
            .collect();
        for sel in sels {
            let sel: Vec<&str> = sel.iter().map(String::as_str).collect();
            let m = diagram(&name, &sel, "mermaid");
            let declared: Vec<String> = m
                .lines()
                .filter_map(|l| l.trim().strip_prefix("participant "))
                .map(|l| l.split(' ').next().unwrap().to_string())
                .collect();
            let (mut opened, mut closed) = (0, 0);
            for l in m.lines().skip(1).map(str::trim) {
                match l {
                    l if l.starts_with("rect ") => opened += 1,
                    "end" => closed += 1,
                    l if l.starts_with("title ") || l.starts_with("participant ") => {}
                    l => {
                        // A message or a note between declared participants.
                        let head = l.split(':').next().unwrap();
                        let used: Vec<&str> = head
                            .split(|c: char| !c.is_ascii_alphanumeric())
                            .filter(|w| w.starts_with('p') && w[1..].parse::<u32>().is_ok())
                            .collect();
                        assert!(!used.is_empty(), "{name} {sel:?}: {l}");
                        for u in used {
                            assert!(declared.iter().any(|d| d == u), "{name}: {u} in {l}");
                        }
                    }
                }
            }
            assert_eq!(opened, closed, "{name} {sel:?}:\n{m}");
        }
    }
}

/// Where Chromium is, if it is installed.
fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// Draw `svg` in headless Chromium (as an image, then onto a canvas) and read back what
/// it drew: `drawn WxH ink N path M` (pixels that are not white, and pixels of the path's
/// colour), or `error` when the browser cannot decode it.
fn draw_in_chromium(browser: &str, svg: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kpath-diagram-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data: String = svg
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let html = format!(
        r#"<!doctype html><html><body><canvas id="c"></canvas><script>
const img = new Image();
img.onload = () => {{
  const c = document.getElementById('c');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const x = c.getContext('2d'); x.drawImage(img, 0, 0);
  const d = x.getImageData(0, 0, c.width, c.height).data;
  let ink = 0, path = 0;
  for (let i = 0; i < d.length; i += 4) {{
    if (d[i+3] > 0 && !(d[i] > 240 && d[i+1] > 240 && d[i+2] > 240)) ink++;
    if (Math.abs(d[i] - 0xd6) < 16 && Math.abs(d[i+1] - 0x33) < 16 && Math.abs(d[i+2] - 0x6c) < 16) path++;
  }}
  document.body.setAttribute('data-result', 'drawn ' + c.width + 'x' + c.height + ' ink ' + ink + ' path ' + path);
}};
img.onerror = () => document.body.setAttribute('data-result', 'error');
img.src = 'data:image/svg+xml,{data}';
</script></body></html>"#
    );
    let page = dir.join("page.html");
    std::fs::write(&page, html).unwrap();
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    dom.split("data-result=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("no result")
        .to_string()
}

#[test]
fn the_topology_svg_draws_in_a_real_browser_with_the_path_across_it() {
    let svg = diagram("pod-to-clusterip-cross-node", &["-p", "syn"], "svg");
    // Drawn from the world: every namespace and device of the path is there.
    for ns in [
        "default/client",
        "node-1",
        "underlay",
        "node-3",
        "default/downloader-c",
    ] {
        assert!(svg.contains(&format!("data-netns=\"{ns}\"")), "{ns}");
    }
    for dev in ["cni0", "flannel.1", "eth0", "node-1-eth0"] {
        assert!(svg.contains(&format!("data-device=\"{dev}\"")), "{dev}");
    }
    assert!(
        svg.contains(r#"class="hop out tunnel""#),
        "the tunnel stretch is dashed"
    );
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("KPATH_REQUIRE_CHROMIUM").is_none(),
            "KPATH_REQUIRE_CHROMIUM is set and Chromium is not installed"
        );
        eprintln!(
            "skipped the browser check: Chromium is not installed (apt-get install chromium)"
        );
        return;
    };
    let drawn = draw_in_chromium(browser, &svg);
    let n = |key: &str| -> u64 {
        let w: Vec<&str> = drawn.split(' ').collect();
        let i = w
            .iter()
            .position(|x| *x == key)
            .unwrap_or_else(|| panic!("{drawn}"));
        w[i + 1].parse().unwrap()
    };
    assert!(drawn.starts_with("drawn "), "{drawn}");
    assert!(n("ink") > 20_000, "too little drawn: {drawn}");
    assert!(n("path") > 2_000, "the path is not drawn: {drawn}");
    // The check can fail: a cut SVG does not decode.
    assert_eq!(draw_in_chromium(browser, &svg[..svg.len() / 2]), "error");
}

#[test]
fn readme_shows_the_pictures_kpath_draws() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let block = readme
        .split("```mermaid\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("README shows a Mermaid diagram");
    assert_eq!(
        block,
        diagram("pod-to-clusterip-cross-node", &["-p", "syn"], "mermaid")
    );
    let svg = std::fs::read_to_string(format!(
        "{root}/docs/pictures/pod-to-clusterip-cross-node-syn.svg"
    ))
    .unwrap();
    assert!(readme.contains("(docs/pictures/pod-to-clusterip-cross-node-syn.svg)"));
    assert_eq!(
        svg,
        diagram("pod-to-clusterip-cross-node", &["-p", "syn"], "svg")
    );
}
