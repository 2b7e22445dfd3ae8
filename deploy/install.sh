#!/bin/sh
# Installs telemux for the current user: the binary, a config (if none), and the
# node service for this OS (systemd user unit on Linux, launchd agent on macOS).
# Usage: deploy/install.sh [path/to/telemux]   (default: builds it with cargo)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-}
if [ -z "$bin" ]; then
  echo "building telemux (release)..."
  (cd "$root" && cargo build --release -p telemux)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/telemux"
fi
dest="$HOME/.local/bin"
mkdir -p "$dest"
install -m 755 "$bin" "$dest/telemux"
echo "installed $dest/telemux"

cfg_dir=${XDG_CONFIG_HOME:-$HOME/.config}/telemux
if [ ! -f "$cfg_dir/telemux.toml" ]; then
  mkdir -p "$cfg_dir"
  install -m 600 "$root/config/telemux.example.toml" "$cfg_dir/telemux.toml"
  echo "wrote $cfg_dir/telemux.toml from the example: set redis.url and mesh.key there"
fi

case "$(uname -s)" in
  Linux)
    unit_dir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
    mkdir -p "$unit_dir"
    install -m 644 "$here/systemd/telemux-node.service" "$unit_dir/"
    install -m 644 "$here/systemd/telemux-gateway.service" "$unit_dir/"
    echo "installed systemd user units in $unit_dir"
    echo "next: edit $cfg_dir/telemux.toml, run 'telemux doctor', then"
    echo "      systemctl --user daemon-reload && systemctl --user enable --now telemux-node"
    echo "      loginctl enable-linger \"${USER:-$(id -un)}\"   # keep it running after logout"
    ;;
  Darwin)
    agents="$HOME/Library/LaunchAgents"
    mkdir -p "$agents"
    sed -e "s#__TELEMUX__#$dest/telemux#" -e "s#__HOME__#$HOME#" \
      "$here/launchd/dev.telemux.node.plist" > "$agents/dev.telemux.node.plist"
    echo "installed $agents/dev.telemux.node.plist"
    echo "next: edit $cfg_dir/telemux.toml, run 'telemux doctor', then"
    echo "      launchctl bootstrap gui/$(id -u) $agents/dev.telemux.node.plist"
    ;;
  *)
    echo "no service template for $(uname -s); run 'telemux node' under your init system"
    ;;
esac
case ":$PATH:" in *":$dest:"*) ;; *) echo "note: add $dest to your PATH" ;; esac
