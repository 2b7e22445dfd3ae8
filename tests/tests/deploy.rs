//! Deploy files (issue 8): install.sh in a throwaway HOME, the systemd units'
//! essentials, and the launchd plist's well-formedness.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Runs deploy/install.sh with a prebuilt binary and nothing but PATH and HOME.
fn install(bin: &Path, home: &Path) -> std::process::Output {
    Command::new("sh")
        .arg(root().join("deploy/install.sh"))
        .arg(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home)
        .output()
        .unwrap()
}

#[test]
fn install_sh_installs_binary_config_and_units_into_home() {
    let bin = telemux_tests::telemux_bin();
    let home = tempfile::tempdir().unwrap();
    let out = install(&bin, home.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "install.sh failed: {out:?}");
    let installed = home.path().join(".local/bin/telemux");
    let meta = std::fs::metadata(&installed).expect("binary installed");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        meta.permissions().mode() & 0o111,
        0o111,
        "binary is executable"
    );
    let cfg = home.path().join(".config/telemux/telemux.toml");
    assert_eq!(
        std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
        0o600,
        "config is private"
    );
    if cfg!(target_os = "linux") {
        assert!(home
            .path()
            .join(".config/systemd/user/telemux-node.service")
            .exists());
        assert!(home
            .path()
            .join(".config/systemd/user/telemux-gateway.service")
            .exists());
        assert!(stdout.contains("systemctl --user"), "{stdout}");
    }
    // The installed binary runs and the written config parses.
    let v = Command::new(&installed)
        .args(["config", "show", "--json"])
        .env_clear()
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "installed telemux rejects its own example config: {v:?}"
    );
    // Running it twice keeps the user's config.
    std::fs::write(&cfg, "computer = \"Mine\"\n").unwrap();
    let again = install(&bin, home.path());
    assert!(again.status.success(), "{again:?}");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "computer = \"Mine\"\n"
    );
}

#[test]
fn systemd_units_keep_sessions_alive_across_restarts() {
    for unit in ["telemux-node.service", "telemux-node@.service"] {
        let text = std::fs::read_to_string(root().join("deploy/systemd").join(unit)).unwrap();
        for needed in [
            "ExecStart=",
            "Restart=on-failure",
            "KillMode=process",
            "[Install]",
        ] {
            assert!(text.contains(needed), "{unit} lacks {needed}");
        }
    }
    let gw =
        std::fs::read_to_string(root().join("deploy/systemd/telemux-gateway.service")).unwrap();
    assert!(gw.contains("telemux gateway") && gw.contains("Restart=on-failure"));
}

#[test]
fn launchd_plist_is_well_formed_xml() {
    let plist = root().join("deploy/launchd/dev.telemux.node.plist");
    let out = Command::new("python3")
        .args([
            "-c",
            "import plistlib,sys; d=plistlib.load(open(sys.argv[1],'rb')); assert d['Label']=='dev.telemux.node'; assert d['ProgramArguments'][1]=='node'; assert d['AbandonProcessGroup'] is True",
        ])
        .arg(&plist)
        .output()
        .expect("python3 is needed for this check (the MCP tests need it too)");
    assert!(
        out.status.success(),
        "plist check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// systemd's own parser accepts every unit (directives, sections, specifiers).
/// The binary path is pointed at the built telemux, since `verify` also
/// checks that ExecStart is executable. Skipped (with a note) where systemd
/// is absent, e.g. macOS.
#[test]
fn systemd_analyze_verifies_the_units() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        eprintln!("systemd-analyze not installed: unit files not verified by systemd");
        return;
    };
    let bin = telemux_tests::telemux_bin();
    let dir = tempfile::tempdir().unwrap();
    for unit in [
        "telemux-node.service",
        "telemux-node@.service",
        "telemux-gateway.service",
    ] {
        let text = std::fs::read_to_string(root().join("deploy/systemd").join(unit)).unwrap();
        let text = text
            .replace("%h/.local/bin/telemux", &bin.to_string_lossy())
            .replace("/usr/local/bin/telemux", &bin.to_string_lossy());
        let path = dir.path().join(unit.replace("@.", "@test."));
        std::fs::write(&path, text).unwrap();
        let out = Command::new(analyze)
            .args(["verify", "--man=no"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {unit}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
