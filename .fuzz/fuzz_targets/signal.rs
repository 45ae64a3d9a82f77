//! Signal names and numbers (`--pdeathsig`, `--rewrite FROM:TO`) and the
//! hexadecimal signal sets of /proc status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::signals::{Disposition, MAX, Rewrites, SigSet, Signo};

fuzz_target!(|data: &[u8]| {
    let Some(text) = rinit_fuzz::text(data) else {
        return;
    };

    let parsed = Signo::parse(text);
    if let Some(sig) = parsed {
        assert!((1..=MAX).contains(&sig.number()), "{text:?}");
        assert_eq!(Signo::parse(&sig.number().to_string()), Some(sig));
        let name = sig.to_string();
        if name.starts_with("SIG") {
            assert_eq!(Signo::parse(&name), Some(sig), "{text:?} -> {name}");
        }
    }
    // Case and surrounding blanks do not matter.
    assert_eq!(Signo::parse(&text.to_ascii_lowercase()), parsed, "{text:?}");
    assert_eq!(Signo::parse(&format!(" {text}\t")), parsed, "{text:?}");

    match Rewrites::parse_rule(text) {
        Ok((from, to)) => {
            assert_eq!(from.disposition(), Disposition::Forward, "{text:?}");
            let mut rewrites = Rewrites::default();
            rewrites.set(from, to);
            assert_eq!(rewrites.apply(from), to);
        }
        Err(why) => assert!(!why.is_empty()),
    }

    if let Some(set) = SigSet::from_proc_hex(text) {
        assert_eq!(SigSet::from_proc_hex(&format!("{:016x}", set.0)), Some(set));
        assert!(set.iter().all(|s| set.contains(s)));
        assert_eq!(set.iter().count() as u32, set.0.count_ones());
    }
});
