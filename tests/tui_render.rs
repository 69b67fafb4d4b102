//! The terminal UI, drawn into ratatui's TestBackend: snapshots of the key screens (insta)
//! for shipped scenarios, and the keys a learner uses, checked on the state they move.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kpath::tui::app::{App, Overlay};
use kpath::tui::{tracks, view};
use kpath_sim::trace::StepKind;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;

fn app(scenario: &str, only: Option<&str>) -> App {
    let (s, w) = common::load(scenario);
    let t = tracks(&s, &w, only).unwrap_or_else(|e| panic!("{e}"));
    let mut a = App::new(s, w, t);
    a.first();
    a
}

fn press(a: &mut App, keys: &str) {
    for c in keys.chars() {
        a.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

fn code(a: &mut App, k: KeyCode) {
    a.key(KeyEvent::new(k, KeyModifiers::NONE));
}

/// The screen as text, one line per row (trailing blanks trimmed).
fn screen(a: &App, w: u16, h: u16) -> (String, Terminal<TestBackend>) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| view::draw(f, a)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    (out, term)
}

fn goto(a: &mut App, pred: impl Fn(&kpath_sim::trace::Step) -> bool) {
    let i = a.trace().steps.iter().position(pred).expect("such a step");
    a.step = i;
    a.focus_change();
}

#[test]
fn the_first_screen_shows_topology_steps_packet_and_keys() {
    let a = app("pod-to-pod-cross-node", Some("ping"));
    let (text, _) = screen(&a, 100, 32);
    insta::assert_snapshot!("cross_node_first_step", text);
}

#[test]
fn a_dnat_rule_is_highlighted_in_its_chain_and_the_change_shown() {
    let mut a = app("pod-to-clusterip-same-node", Some("syn"));
    goto(&mut a, |s| {
        s.nf.as_ref().is_some_and(|n| n.action.dnat_to().is_some())
    });
    let (text, term) = screen(&a, 110, 34);
    insta::assert_snapshot!("clusterip_dnat_rule", text);
    // The matched rule's row is drawn reversed, in the detail pane.
    let buf = term.backend().buffer();
    let hit = (0..34).any(|y| {
        let cells: Vec<&str> = (50..110).map(|x| buf[(x, y)].symbol()).collect();
        let at = cells.windows(4).position(|w| w.concat() == "-p t");
        at.is_some_and(|i| {
            buf[(50 + i as u16, y)]
                .modifier
                .contains(Modifier::REVERSED)
        })
    });
    assert!(hit, "rule 2 (the DNAT) is highlighted:\n{text}");
}

#[test]
fn an_ipvs_step_shows_ipvsadm_with_the_service_and_its_real_server_lit() {
    let mut a = app("ipvs-clusterip", Some("syn"));
    goto(&mut a, |s| s.func == "ip_vs_nat_xmit");
    let (text, term) = screen(&a, 120, 40);
    assert!(text.contains("ipvsadm -Ln (node-1)"), "{text}");
    assert!(
        text.contains("connection TCP 10.244.1.2:"),
        "the IPVS connection is named: {text}"
    );
    assert!(
        text.contains("dst          10.96.100.10 -> 10.244.2.4"),
        "{text}"
    );
    insta::assert_snapshot!("ipvs_nat_xmit", text);
    // The virtual service and the chosen real server are drawn reversed; the other one not.
    let buf = term.backend().buffer();
    let lit = |needle: &str| {
        (0..40).any(|y| {
            let row: String = (0..120).map(|x| buf[(x, y)].symbol()).collect();
            row.find(needle).is_some_and(|i| {
                let x = row[..i].chars().count() as u16;
                buf[(x, y)].modifier.contains(Modifier::REVERSED)
            })
        })
    };
    assert!(lit("TCP  10.96.100.10:80 rr"), "{text}");
    assert!(lit("-> 10.244.2.4:8080"), "{text}");
    assert!(!lit("-> 10.244.1.4:8080"), "{text}");
}

#[test]
fn an_nft_step_shows_the_rule_in_its_chain_with_the_map_element_lit() {
    let mut a = app("nftables-clusterip", Some("connect"));
    goto(&mut a, |s| {
        s.nf.as_ref().is_some_and(|n| n.rule.chain == "services")
    });
    let (text, term) = screen(&a, 170, 44);
    assert!(
        text.contains("table ip kube-proxy, chain services"),
        "{text}"
    );
    assert!(
        text.contains("@service-ips element 10.96.100.10 . tcp . 80"),
        "{text}"
    );
    let buf = term.backend().buffer();
    let lit = |needle: &str| {
        (0..44).any(|y| {
            let row: String = (0..170).map(|x| buf[(x, y)].symbol()).collect();
            row.find(needle).is_some_and(|i| {
                let x = row[..i].chars().count() as u16;
                buf[(x, y)].modifier.contains(Modifier::REVERSED)
            })
        })
    };
    assert!(lit("10.96.100.10 . tcp . 80 : goto service-"), "{text}");
    assert!(
        lit("ip daddr . meta l4proto . th dport vmap @service-ips"),
        "{text}"
    );
    // Where a base chain's policy decided, its spec line (type, hook, priority, policy) is lit.
    goto(&mut a, |s| {
        s.nf.as_ref()
            .is_some_and(|n| n.rule.chain == "filter-prerouting" && n.rule.is_policy())
    });
    let (text, term) = screen(&a, 170, 44);
    let buf = term.backend().buffer();
    let spec = "type filter hook prerouting priority dstnat - 10; policy accept;";
    let row = (0..44)
        .map(|y| (0..170).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .position(|r| r.contains(spec));
    let y = row.unwrap_or_else(|| panic!("{text}"));
    let line: String = (0..170).map(|x| buf[(x, y as u16)].symbol()).collect();
    let x = line[..line.find(spec).unwrap()].chars().count() as u16;
    assert!(
        buf[(x, y as u16)].modifier.contains(Modifier::REVERSED),
        "{text}"
    );
}

#[test]
fn encapsulation_shows_both_headers_and_the_tunnel() {
    let mut a = app("pod-to-pod-cross-node", Some("ping"));
    goto(&mut a, |s| s.kind == StepKind::Encap);
    let (text, _) = screen(&a, 110, 40);
    assert!(
        text.contains("VXLAN vni 1: 172.31.0.11 -> 172.31.0.12"),
        "{text}"
    );
    assert!(
        text.contains("(new) -> "),
        "new outer fields shown as added: {text}"
    );
    insta::assert_snapshot!("cross_node_encapsulation", text);
    // Selecting further down reaches the inner headers, unchanged by the encapsulation.
    press(&mut a, &"j".repeat(24));
    let (text, _) = screen(&a, 110, 40);
    assert!(text.contains("inner IPv4"), "{text}");
}

#[test]
fn help_lists_every_key_and_a_small_terminal_is_told_so() {
    let mut a = app("pod-to-pod-cross-node", Some("ping"));
    press(&mut a, "?");
    assert_eq!(a.overlay, Overlay::Help);
    let (text, _) = screen(&a, 100, 32);
    for (k, _) in view::HELP {
        assert!(text.contains(k), "help lacks `{k}`:\n{text}");
    }
    code(&mut a, KeyCode::Esc);
    assert_eq!(a.overlay, Overlay::None);
    let (text, _) = screen(&a, 60, 20);
    assert!(text.contains("at least 80x24"), "{text}");
}

#[test]
fn stepping_forward_back_first_last() {
    let mut a = app("pod-to-pod-cross-node", Some("ping"));
    let n = a.trace().steps.len();
    assert_eq!(a.step, 0);
    press(&mut a, "lll");
    assert_eq!(a.step, 3);
    code(&mut a, KeyCode::Left);
    assert_eq!(a.step, 2);
    code(&mut a, KeyCode::End);
    assert_eq!(a.step, n - 1);
    code(&mut a, KeyCode::Right);
    assert_eq!(a.step, n - 1, "stays on the last step");
    code(&mut a, KeyCode::Home);
    assert_eq!(a.step, 0);
    press(&mut a, "q");
    assert!(a.quit);
}

#[test]
fn hook_and_node_jumps_land_where_they_say() {
    let mut a = app("pod-to-pod-cross-node", Some("ping"));
    press(&mut a, "]");
    let s = a.current().unwrap();
    assert_eq!(s.kind, StepKind::Netfilter);
    let first_hook = (s.netns.clone(), s.hook);
    press(&mut a, "]");
    let s = a.current().unwrap();
    assert_eq!(s.kind, StepKind::Netfilter);
    assert_ne!((s.netns.clone(), s.hook), first_hook, "a different hook");
    let ns = a.current().unwrap().netns.clone();
    press(&mut a, "}");
    assert_ne!(a.current().unwrap().netns, ns, "another namespace");
    let i = a.step;
    press(&mut a, "{");
    assert!(a.step < i);
}

#[test]
fn filtering_hides_kinds_and_search_finds_steps() {
    let mut a = app("pod-to-pod-cross-node", Some("ping"));
    press(&mut a, "f4");
    code(&mut a, KeyCode::Esc);
    assert!(a.hidden.contains(&StepKind::Netfilter));
    for _ in 0..a.trace().steps.len() {
        press(&mut a, "l");
        assert_ne!(a.current().unwrap().kind, StepKind::Netfilter);
    }
    press(&mut a, "g/vxlan_xmit");
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.current().unwrap().func, "vxlan_xmit");
    press(&mut a, "/no-such-thing");
    code(&mut a, KeyCode::Enter);
    assert!(a.message.contains("no step matches"));
}

#[test]
fn tab_follows_another_outcome_and_click_selects_a_step() {
    let mut a = app("pod-to-clusterip-cross-node", Some("syn"));
    assert_eq!(a.tracks.len(), 3, "three endpoints, three outcomes");
    code(&mut a, KeyCode::Tab);
    assert_eq!(a.track, 1);
    // Each outcome's label says where it ends, before the pane cuts it.
    let labels: Vec<&str> = a.tracks.iter().map(|t| t.label.as_str()).collect();
    for (l, pod) in labels
        .iter()
        .zip(["downloader-a", "downloader-b", "downloader-c"])
    {
        assert!(l.starts_with("syn 33%: delivered at default/"), "{l}");
        assert!(l.ends_with(pod), "{l}");
    }
    // The outcome `kpath trace` prints for the seed is the one marked to open on.
    let (s, w) = common::load("pod-to-clusterip-cross-node");
    let printed = kpath_sim::run_packet(&s, &w, "syn").unwrap();
    let seeded: Vec<&str> = a
        .tracks
        .iter()
        .filter(|t| t.seeded)
        .map(|t| t.trace.disposition.netns.as_str())
        .collect();
    assert_eq!(seeded, [printed.disposition.netns.as_str()]);
    // Draw once so the list knows where it is, then click its third row.
    let _ = screen(&a, 100, 32);
    let (area, first) = a.list_area.get();
    a.click(area.x + 2, area.y + 2);
    assert_eq!(a.step, a.visible_steps()[first + 2]);
}

/// Every shipped scenario, every packet and outcome, drawn at its first, middle and last
/// step at the smallest and a large size, with every overlay: nothing panics, and the
/// title always says where the learner is.
#[test]
fn every_lesson_draws_at_every_size() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    for name in names {
        let mut a = app(&name, None);
        for t in 0..a.tracks.len() {
            a.set_track(t);
            let n = a.trace().steps.len();
            for step in [0, n / 2, n.saturating_sub(1)] {
                a.step = step;
                a.focus_change();
                for overlay in [
                    Overlay::None,
                    Overlay::Help,
                    Overlay::Filter,
                    Overlay::Tracks,
                    Overlay::Send,
                ] {
                    a.overlay = overlay;
                    a.form = (overlay == Overlay::Send)
                        .then(|| kpath::tui::send::Form::starting_from(None));
                    let sizes: &[(u16, u16)] = if overlay == Overlay::None {
                        &[(80, 24), (200, 60)]
                    } else {
                        &[(80, 24)]
                    };
                    for &(w, h) in sizes {
                        let (text, _) = screen(&a, w, h);
                        let shown = match overlay {
                            Overlay::None => " kpath ",
                            Overlay::Help => "keys — Esc closes",
                            Overlay::Filter => "show steps by kind",
                            Overlay::Tracks => "follow which packet",
                            Overlay::Send => "send a packet",
                        };
                        assert!(
                            text.contains(shown),
                            "{name} track {t} step {step}:\n{text}"
                        );
                    }
                }
                a.overlay = Overlay::None;
            }
        }
    }
}

#[test]
fn no_invented_headers_before_a_packet_or_its_layer_2_exists() {
    // The resolver's step comes before any packet: the pane says so, with no header.
    let mut a = app("headless", None);
    let at = a
        .trace()
        .steps
        .iter()
        .position(|s| s.func == "getaddrinfo")
        .expect("the headless lesson resolves a name");
    a.step = at;
    a.focus_change();
    let (text, _) = screen(&a, 100, 32);
    assert!(
        text.contains("no packet at this step: getaddrinfo"),
        "{text}"
    );
    assert!(!text.contains("0.0.0.0"), "{text}");
    // A packet the stack has not given layer 2 yet shows no all-zero Ethernet header.
    let mut a = app("pod-to-pod-cross-node", Some("ping"));
    a.first();
    let (text, _) = screen(&a, 100, 32);
    assert!(!text.contains("00:00:00:00:00:00"), "{text}");
    assert!(text.contains("IPv4"), "{text}");
}

#[test]
fn play_goes_on_across_a_flows_packets_and_the_filter_hides_a_protocol() {
    let mut a = app("pod-to-clusterip-same-node", Some("curl"));
    assert!(a.tracks.len() > 2, "a flow of several packets");
    let group = a.tracks[0].group;
    assert!(a.tracks.iter().take(3).all(|t| t.group == group));
    a.set_track(0);
    a.last();
    a.playing = true;
    a.tick();
    assert_eq!(a.track, 1, "play moved on to the flow's next packet");
    assert!(a.playing);
    // At the end of the flow's last packet, play stops.
    let last = a.tracks.iter().rposition(|t| t.group == group).unwrap();
    a.set_track(last);
    a.last();
    a.tick();
    assert_eq!(a.track, last);
    assert!(!a.playing);
    // Hiding ARP hides every step of the ARP frames, whatever their kind.
    let mut a = app("pod-to-pod-cross-node", Some("ping"));
    let arp = |a: &App| {
        a.visible_steps()
            .iter()
            .filter(|&&i| kpath::tui::app::proto_of(&a.trace().steps[i]) == "ARP")
            .count()
    };
    assert!(arp(&a) > 0);
    a.overlay = Overlay::Filter;
    press(&mut a, "A");
    assert_eq!(arp(&a), 0);
    assert!(a.visible_steps().iter().all(|&i| {
        let s = &a.trace().steps[i];
        !matches!(s.func, "br_flood" | "arp_process")
    }));
    press(&mut a, "A");
    assert!(arp(&a) > 0, "the key shows them again");
}

#[test]
fn at_80x24_a_step_row_still_says_what_the_step_did() {
    let mut a = app("pod-to-clusterip-same-node", Some("syn"));
    let at = a
        .trace()
        .steps
        .iter()
        .position(|s| s.nf.as_ref().is_some_and(|n| n.action.dnat_to().is_some()))
        .unwrap();
    a.step = at;
    a.focus_change();
    let (text, _) = screen(&a, 80, 24);
    // The DNAT rule's row: table, chain (its hash cut to 4), position and the action.
    let row = text
        .lines()
        .find(|l| l.contains("nat KUBE-SEP-"))
        .unwrap_or_else(|| panic!("no DNAT row:\n{text}"));
    assert!(
        row.contains("nat KUBE-SEP-BHMT… #2 dnat 10.244.1.3:80"),
        "{row}"
    );
    // The list takes the larger share at 80 columns: 40 characters for what a step did.
    let list = a.list_area.get().0.width;
    assert!(list >= 45, "{list} columns for the step list at 80x24");
}

#[test]
fn the_send_form_sends_a_packet_the_scenario_does_not_define() {
    let mut a = app("pod-to-clusterip-cross-node", Some("syn"));
    let before = a.tracks.len();
    press(&mut a, "s");
    assert_eq!(a.overlay, Overlay::Send);
    // It starts from the current trace's pod, on the `to` field.
    assert_eq!(a.form.as_ref().unwrap().from, "pod/default/client");
    press(&mut a, "service/default/servic1:80");
    code(&mut a, KeyCode::Enter);
    assert!(
        a.message.contains("unknown Service `default/servic1`"),
        "{}",
        a.message
    );
    assert!(
        a.message
            .contains("did you mean `service/default/service1`?")
    );
    let (text, _) = screen(&a, 80, 24);
    assert!(text.contains("send a packet"), "{text}");
    for _ in 0.."service/default/servic1:80".len() {
        code(&mut a, KeyCode::Backspace);
    }
    press(&mut a, "service/default/service1:80");
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.overlay, Overlay::None, "{}", a.message);
    // Every outcome of the new packet is a track, and the seeded one is followed.
    assert_eq!(a.tracks.len(), before + 3);
    assert!(a.track >= before && a.tracks[a.track].seeded);
    assert!(
        a.tracks[a.track]
            .label
            .starts_with("pod/default/client -> service/default/service1:80 (tcp)")
    );
    assert_eq!(
        a.trace().disposition.kind,
        kpath_sim::trace::DispositionKind::Delivered
    );
    // UDP to the DNS Service, chosen on the protocol field.
    press(&mut a, "s");
    for _ in 0..40 {
        code(&mut a, KeyCode::Backspace);
    }
    press(&mut a, "10.96.0.10:53");
    code(&mut a, KeyCode::Tab);
    code(&mut a, KeyCode::Right);
    code(&mut a, KeyCode::Enter);
    assert!(a.trace().packet.contains("(udp)"), "{}", a.message);
}
