//! Who is still there: the one answer that the teardown's signals, the
//! grace warning, --leaks and the stuck-exit report all take. Pure: the
//! caller hands in /proc's process table, the cgroup's members and, for an
//! outer /proc, each process's `NSpid` list; each is read only when the
//! (Scope, View) case needs it.
//!
//! Never counted: kernel threads (PF_KTHREAD; as PID 1 of a whole machine
//! they fill /proc, but take no signal and never exit; not told by "ppid
//! 2": in a container a process that entered by setns has ppid 0, and its
//! child may well be pid 2) and rinit itself. Zombies are flagged, and
//! only the lines that name the living leave them out: /proc's `Z` is also
//! a thread-group leader that exited while its threads live on, which a
//! signal to its pid still reaches, and which may be what is stuck.

use crate::os::procfs::{ProcStat, View};
use crate::supervisor::Scope;

/// A process still there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Present {
    /// Its pid in rinit's namespace: the one to signal.
    pub pid: i32,
    /// Its pid as /proc shows it, to read about it; `None` when /proc
    /// cannot show it.
    pub here: Option<i32>,
    /// /proc shows it as a zombie (`Z`).
    pub zombie: bool,
}

/// The answer, sorted by pid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Census {
    /// Every process still there.
    All(Vec<Present>),
    /// The cgroup's members only: /proc does not show rinit's namespace,
    /// so rinit's other descendants are unknown (whether there are any,
    /// only rinit's children can tell).
    MembersOnly(Vec<Present>),
    /// /proc does not show rinit's namespace, and as PID 1 nothing else
    /// lists it: cannot tell.
    Unknown,
}

impl Census {
    /// Whatever is known to be there.
    pub fn present(&self) -> &[Present] {
        match self {
            Census::All(all) | Census::MembersOnly(all) => all,
            Census::Unknown => &[],
        }
    }

    /// What a stuck-exit report lists: every process present as /proc
    /// shows it, without the
    /// zombies for which `counts` says no (rinit's own, whose threads are
    /// all gone: they wait only for rinit's reaping, which is not being
    /// stuck).
    pub fn listed_stuck(&self, counts: impl Fn(i32) -> bool) -> Option<Vec<i32>> {
        match self {
            Census::All(all) => Some(
                all.iter()
                    .filter(|p| !p.zombie || p.here.is_some_and(&counts))
                    .filter_map(|p| p.here)
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The same, zombies left out: the processes that are still running.
    pub fn listed_alive(&self) -> Option<Vec<i32>> {
        match self {
            Census::All(all) => Some(
                all.iter()
                    .filter(|p| !p.zombie)
                    .filter_map(|p| p.here)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Who is still there, for rinit in `scope` reading a /proc in `view`:
/// `table` is that /proc's processes, `members` the cgroup's (pids in
/// rinit's namespace), `nspid` a process's `NSpid` list by its pid in
/// /proc.
pub fn census(
    scope: Scope,
    view: View,
    table: &[ProcStat],
    members: impl FnOnce() -> Vec<i32>,
    nspid: impl Fn(i32) -> Vec<i32>,
) -> Census {
    // Sorted, for binary search: no hasher in a static PID 1, and a fork
    // bomb's table is too long for a scan per pid.
    let mut index: Vec<&ProcStat> = table.iter().collect();
    index.sort_unstable_by_key(|p| p.pid);
    let entry = |here: i32| {
        let at = index.binary_search_by_key(&here, |p| p.pid).ok()?;
        Some(index[at])
    };
    // Not in the table (gone, or a table spared): nothing says no.
    let counted = |here: i32| entry(here).is_none_or(|p| !p.is_kernel_thread());
    let zombie = |here: i32| entry(here).is_some_and(|p| p.state == 'Z');
    let own = |here: i32| Present {
        pid: here,
        here: Some(here),
        zombie: zombie(here),
    };
    // Plain loops into one Vec: an iterator chain per case was larger code.
    let mut present = Vec::new();
    let own_pid = match (scope, view) {
        (Scope::Namespace, View::Own) => {
            for p in table {
                if p.pid != 1 && counted(p.pid) {
                    present.push(own(p.pid));
                }
            }
            1
        }
        (Scope::Namespace, _) => return Census::Unknown,
        (Scope::Descendants { own_pid }, View::Own) => {
            for here in descendants(table, own_pid) {
                if counted(here) {
                    present.push(own(here));
                }
            }
            own_pid
        }
        (Scope::Descendants { own_pid }, View::Outer { self_pid, level }) => {
            for here in descendants(table, self_pid) {
                if counted(here)
                    && let Some(&pid) = nspid(here).get(level)
                {
                    present.push(Present {
                        pid,
                        here: Some(here),
                        zombie: zombie(here),
                    });
                }
            }
            own_pid
        }
        (Scope::Descendants { own_pid }, View::Foreign) => own_pid,
    };
    present.sort_unstable_by_key(|p| p.pid);
    let listed = present.len();
    // As PID 1, every member is in the namespace, and listed already.
    let members = match scope {
        Scope::Namespace => Vec::new(),
        Scope::Descendants { .. } => members(),
    };
    for pid in members {
        if pid == own_pid
            || present[..listed]
                .binary_search_by_key(&pid, |p| p.pid)
                .is_ok()
        {
            continue;
        }
        // A member's pid is rinit's; /proc shows it as such only when it
        // shows rinit's namespace.
        let here = (view == View::Own).then_some(pid);
        if here.is_none_or(counted) {
            present.push(Present {
                pid,
                here,
                zombie: here.is_some_and(zombie),
            });
        }
    }
    present.sort_unstable_by_key(|p| p.pid);
    present.dedup_by_key(|p| p.pid);
    match view {
        View::Foreign => Census::MembersOnly(present),
        _ => Census::All(present),
    }
}

/// Every process below `root` in `table`, each once (a table read while
/// pids are recycled may hold cycles and duplicates), in O(n log n): the
/// parent links are sorted once and each parent's children found by
/// binary search. A walk of the whole table per parent made a teardown of
/// 10,000 leftovers cost seconds of rinit's CPU.
pub fn descendants(table: &[ProcStat], root: i32) -> Vec<i32> {
    let mut links: Vec<(i32, i32)> = table.iter().map(|p| (p.ppid, p.pid)).collect();
    links.sort_unstable();
    let mut known: Vec<i32> = table.iter().map(|p| p.pid).chain([root]).collect();
    known.sort_unstable();
    known.dedup();
    let mut seen = vec![false; known.len()];
    let mark = |seen: &mut Vec<bool>, pid: i32| match known.binary_search(&pid) {
        Ok(at) if !seen[at] => {
            seen[at] = true;
            true
        }
        _ => false,
    };
    mark(&mut seen, root);
    let mut found = vec![root];
    let mut next = 0;
    while let Some(&parent) = found.get(next) {
        let from = links.partition_point(|&(ppid, _)| ppid < parent);
        for &(_, pid) in links[from..]
            .iter()
            .take_while(|&&(ppid, _)| ppid == parent)
        {
            if mark(&mut seen, pid) {
                found.push(pid);
            }
        }
        next += 1;
    }
    found.remove(0);
    found
}

/// The re-check after a pin: whether `now`, what /proc shows at a pinned
/// pid, is still one of rinit's descendants: its parent is `root` (rinit,
/// as /proc shows it) or was a descendant at the scan (`tree`, sorted).
/// A pid recycled since the scan belongs to a stranger, whose parent is
/// none of these. One read per process rather than a second scan per
/// batch of pins, which made the teardown quadratic.
pub fn still_descends(now: Option<&ProcStat>, tree: &[i32], root: i32) -> bool {
    now.is_some_and(|p| {
        !p.is_kernel_thread() && (p.ppid == root || tree.binary_search(&p.ppid).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KTHREAD_FLAGS: u64 = 0x0020_8040;

    fn proc(pid: i32, ppid: i32) -> ProcStat {
        ProcStat {
            pid,
            comm: "sh".into(),
            state: 'S',
            ppid,
            flags: 0,
        }
    }

    fn zombie(pid: i32, ppid: i32) -> ProcStat {
        ProcStat {
            state: 'Z',
            ..proc(pid, ppid)
        }
    }

    fn kthread(pid: i32, ppid: i32) -> ProcStat {
        ProcStat {
            comm: "kworker/0:0".into(),
            flags: KTHREAD_FLAGS,
            ..proc(pid, ppid)
        }
    }

    /// A container: rinit is 1; 7 has a child 8 and a zombie 10; 9 is
    /// re-parented to rinit; 20 is 8's.
    fn container() -> Vec<ProcStat> {
        vec![
            proc(20, 8),
            proc(1, 0),
            proc(7, 1),
            proc(8, 7),
            proc(9, 1),
            zombie(10, 7),
        ]
    }

    /// PID 1 of a whole machine: kthreadd (pid 2, parent 0) and its
    /// kernel threads, with PF_KTHREAD in their flags as the kernel sets
    /// it; 6 is stuck in D.
    fn machine() -> Vec<ProcStat> {
        vec![
            proc(1, 0),
            kthread(2, 0),
            kthread(3, 2),
            proc(4, 1),
            kthread(5, 2),
            ProcStat {
                state: 'D',
                ..proc(6, 4)
            },
            zombie(7, 4),
        ]
    }

    fn no_members() -> Vec<i32> {
        panic!("PID 1 never reads the cgroup: kill(-1) reaches its members")
    }

    fn no_nspid(_: i32) -> Vec<i32> {
        panic!("only an outer /proc needs NSpid")
    }

    /// Pids of rinit's namespace as /proc shows them; negative: a zombie.
    fn own(pids: &[i32]) -> Vec<Present> {
        pids.iter()
            .map(|&pid| Present {
                pid: pid.abs(),
                here: Some(pid.abs()),
                zombie: pid < 0,
            })
            .collect()
    }

    #[test]
    fn descendants_walk_the_tree_once_through_cycles_and_duplicates() {
        let table = vec![
            proc(1234, 1233),
            proc(1234, 1234),
            proc(30, 10),
            proc(31, 30),
            proc(30, 31),
            proc(32, 31),
            proc(32, 31),
        ];
        let sorted = |mut v: Vec<i32>| {
            v.sort_unstable();
            v
        };
        assert_eq!(descendants(&table, 1233), vec![1234]);
        assert_eq!(sorted(descendants(&table, 10)), vec![30, 31, 32]);
        assert_eq!(sorted(descendants(&table, 31)), vec![30, 32]);
        assert_eq!(sorted(descendants(&container(), 1)), vec![7, 8, 9, 10, 20]);
        assert_eq!(sorted(descendants(&container(), 7)), vec![8, 10, 20]);
        assert_eq!(descendants(&container(), 99), Vec::<i32>::new());
    }

    /// 20,000 processes in a chain and a fan: a walk per parent took
    /// seconds; this one takes milliseconds even unoptimised.
    #[test]
    fn descendants_of_a_big_table_are_found_quickly() {
        let mut table: Vec<ProcStat> = (2..10_002).map(|pid| proc(pid, pid - 1)).collect();
        table.extend((10_002..20_002).map(|pid| proc(pid, 1)));
        let started = std::time::Instant::now();
        assert_eq!(descendants(&table, 1).len(), 20_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn a_pinned_pid_still_descends_when_its_parent_is_rinit_or_a_descendant() {
        let tree = [8, 9, 20];
        // Reparented to rinit (7), or still below 8.
        assert!(still_descends(Some(&proc(20, 7)), &tree, 7));
        assert!(still_descends(Some(&proc(20, 8)), &tree, 7));
        assert!(still_descends(Some(&zombie(9, 7)), &tree, 7));
        // Recycled: the namespace's init (1) or a stranger started it.
        assert!(!still_descends(Some(&proc(20, 1)), &tree, 7));
        assert!(!still_descends(Some(&proc(20, 3)), &tree, 7));
        assert!(!still_descends(Some(&kthread(20, 7)), &tree, 7));
        // Gone.
        assert!(!still_descends(None, &tree, 7));
    }

    #[test]
    fn pid_1_counts_every_other_live_process_of_its_namespace() {
        let got = census(
            Scope::Namespace,
            View::Own,
            &container(),
            no_members,
            no_nspid,
        );
        assert_eq!(got, Census::All(own(&[7, 8, 9, -10, 20])));
        assert_eq!(got.listed_stuck(|_| true), Some(vec![7, 8, 9, 10, 20]));
        assert_eq!(got.listed_alive(), Some(vec![7, 8, 9, 20]));
        // The zombie 10 is listed only where the caller says it counts.
        assert_eq!(got.listed_stuck(|_| false), Some(vec![7, 8, 9, 20]));
        assert_eq!(
            got.listed_stuck(|pid| pid == 10),
            Some(vec![7, 8, 9, 10, 20])
        );
    }

    /// The grace warning as PID 1 of a whole machine once named kthreadd
    /// and every kworker as having "ignored SIGTERM".
    #[test]
    fn pid_1_of_a_machine_never_counts_kernel_threads() {
        let got = census(
            Scope::Namespace,
            View::Own,
            &machine(),
            no_members,
            no_nspid,
        );
        assert_eq!(got, Census::All(own(&[4, 6, -7])));
        assert_eq!(got.listed_alive(), Some(vec![4, 6]));
    }

    #[test]
    fn pid_1_cannot_tell_through_another_namespaces_proc() {
        let outer = View::Outer {
            self_pid: 500,
            level: 1,
        };
        for view in [outer, View::Foreign] {
            let got = census(Scope::Namespace, view, &machine(), no_members, no_nspid);
            assert_eq!(got, Census::Unknown);
            assert_eq!(got.present(), []);
            assert_eq!(got.listed_stuck(|_| true), None);
            assert_eq!(got.listed_alive(), None);
        }
    }

    #[test]
    fn a_subreaper_counts_its_descendants_and_its_cgroup() {
        let scope = Scope::Descendants { own_pid: 7 };
        let table = container();
        assert_eq!(
            census(scope, View::Own, &table, Vec::new, no_nspid),
            Census::All(own(&[8, -10, 20]))
        );
        // A member that left the tree is counted once; rinit itself (a v1
        // cgroup may hold it) never.
        assert_eq!(
            census(scope, View::Own, &table, || vec![20, 9, 7, 10], no_nspid),
            Census::All(own(&[8, 9, -10, 20]))
        );
    }

    #[test]
    fn a_subreaper_never_counts_kernel_threads_even_in_its_cgroup() {
        let scope = Scope::Descendants { own_pid: 1 };
        assert_eq!(
            census(scope, View::Own, &machine(), || vec![6, 5], no_nspid),
            Census::All(own(&[4, 6, -7]))
        );
    }

    /// No child, so the table was spared: the members still count.
    #[test]
    fn members_count_without_a_table() {
        let scope = Scope::Descendants { own_pid: 7 };
        assert_eq!(
            census(scope, View::Own, &[], || vec![31, 30], no_nspid),
            Census::All(own(&[30, 31]))
        );
    }

    /// The host's /proc after `unshare --pid`: rinit is 107 there and 7 in
    /// its namespace; each descendant's pid there is NSpid's entry 1.
    #[test]
    fn a_subreaper_maps_an_outer_procs_pids_to_its_own() {
        let scope = Scope::Descendants { own_pid: 7 };
        let view = View::Outer {
            self_pid: 107,
            level: 1,
        };
        let table = vec![
            proc(1, 0),
            proc(107, 1),
            proc(108, 107),
            zombie(109, 107),
            proc(120, 108),
            // Gone before its status was read: no pid of rinit's.
            proc(121, 108),
            // A stranger with the number of rinit's child.
            proc(8, 1),
        ];
        let nspid = |here: i32| match here {
            121 => Vec::new(),
            here => vec![here, here - 100],
        };
        let got = census(scope, view, &table, || vec![20, 30], nspid);
        assert_eq!(
            got,
            Census::All(vec![
                Present {
                    pid: 8,
                    here: Some(108),
                    zombie: false
                },
                Present {
                    pid: 9,
                    here: Some(109),
                    zombie: true
                },
                Present {
                    pid: 20,
                    here: Some(120),
                    zombie: false
                },
                Present {
                    pid: 30,
                    here: None,
                    zombie: false
                },
            ])
        );
        assert_eq!(got.listed_stuck(|_| true), Some(vec![108, 109, 120]));
        assert_eq!(got.listed_alive(), Some(vec![108, 120]));
    }

    #[test]
    fn a_subreaper_through_a_foreign_proc_knows_only_its_cgroup() {
        let scope = Scope::Descendants { own_pid: 7 };
        // The table is a stranger's: its pid 8 must not be taken for ours.
        let got = census(scope, View::Foreign, &container(), || vec![30, 7], no_nspid);
        assert_eq!(
            got,
            Census::MembersOnly(vec![Present {
                pid: 30,
                here: None,
                zombie: false
            }])
        );
        assert_eq!(got.listed_stuck(|_| true), None);
        assert_eq!(
            census(scope, View::Foreign, &[], Vec::new, no_nspid),
            Census::MembersOnly(Vec::new())
        );
    }
}
