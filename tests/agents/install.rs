//! Installs the pinned agent CLIs (`telemux_tests::real_agents::ALL`) into the
//! shared cache, so the real-agent scenarios find them ready. `.ci/run` runs
//! it before the tests; the scenarios would install them on first use anyway.

fn main() {
    for cli in telemux_tests::real_agents::ALL {
        let bin = telemux_tests::real_agents::install(&cli);
        println!("{}@{}: {}", cli.package, cli.version, bin.display());
    }
}
